"""runit: ``node_service_*{supervisor="runit"}`` from runsv's status files (node_exporter v1.7.0 runit.go).

Every directory or symlink in ``--collector.runit.servicedir`` is a service; its runsv keeps a
20-byte ``supervise/status`` file: a TAI64 timestamp of the last state change (bytes 0-7,
big-endian), the pid (12-15, little-endian), the wanted state ('u'/'d', byte 17) and the state
(0 down, 1 run, 2 finish; byte 19).
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.context import NodeContext

NAME = "runit"
LOGGER = logging.getLogger("exporters.node")
DEFAULT_SERVICE_DIR = "/etc/service"
STATUS_SIZE = 20
# TAI64 label of the Unix epoch (2^62) plus the 10 s TAI-UTC offset of 1970.
TAI_OFFSET = 4611686018427387914
WANT = {ord("u"): 1, ord("d"): 0}
# (metric, help) in the order a service's series are emitted.
FAMILIES = (
    ("node_service_state", "State of runit service."),
    ("node_service_desired_state", "Desired state of runit service."),
    ("node_service_state_last_change_timestamp_seconds", "Unix timestamp of the last runit service state change."),
    ("node_service_normal_state", "Normal state of runit service."),
)


@dataclass(frozen=True)
class ServiceStatus:
    state: int
    want: int
    timestamp: int
    pid: int


def parse_status(data: bytes) -> ServiceStatus:
    """A ``supervise/status`` file's first bytes; a short file reads as if zero-padded."""
    if not data:
        raise ValueError("empty status file")
    data = data[:STATUS_SIZE].ljust(STATUS_SIZE, b"\0")
    (tai,) = struct.unpack_from(">q", data, 0)
    (pid,) = struct.unpack_from("<I", data, 12)
    return ServiceStatus(state=data[19], want=WANT.get(data[17], 0), timestamp=tai - TAI_OFFSET, pid=pid)


def list_services(service_dir: str) -> list[str]:
    """The directories and symlinks of the service directory, sorted by name."""
    with os.scandir(service_dir) as entries:
        return sorted(e.name for e in entries if e.is_symlink() or e.is_dir(follow_symlinks=False))


def read_status(service_dir: str, name: str) -> tuple[ServiceStatus, bool]:
    """A service's status and whether it is normally up.

    "Normally up" is as upstream's runit library decides it: no ``supervise/down`` file
    (runit itself reads a ``down`` file in the service directory).
    """
    with open(os.path.join(service_dir, name, "supervise", "status"), "rb") as f:
        data = f.read(STATUS_SIZE)
    normally_up = not os.path.exists(os.path.join(service_dir, name, "supervise", "down"))
    return parse_status(data), normally_up


class RunitCollector:
    def __init__(self, service_dir: str) -> None:
        self.service_dir = service_dir

    def collect(self) -> Iterable[Metric]:
        families = [GaugeFamily(name, doc, labels=["service", "supervisor"]) for name, doc in FAMILIES]
        for service in list_services(self.service_dir):
            try:
                status, normally_up = read_status(self.service_dir, service)
            except (OSError, ValueError) as err:
                LOGGER.debug("Couldn't get status", extra={"collector": NAME, "service": service, "err": str(err)})
                continue
            values = (status.state, status.want, status.timestamp, 1 if normally_up else 0)
            for family, value in zip(families, values, strict=True):
                family.add_metric([service, "runit"], value)
        return families


@dataclass(frozen=True)
class RunitOptions:
    """The runit collector's flags (``--collector.runit.*``)."""

    servicedir: str = option("--collector.runit.servicedir", DEFAULT_SERVICE_DIR, "Path to runit service directory.")


def build(context: NodeContext) -> RunitCollector:
    LOGGER.warning("This collector is deprecated and will be removed in the next major version release.",
                   extra={"collector": NAME})
    return RunitCollector(context.options(RunitOptions).servicedir)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes service status from runit.",
    options=RunitOptions,
    source="supervise/status of each service under --collector.runit.servicedir",
)
