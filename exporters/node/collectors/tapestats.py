"""tapestats: SCSI tape drive I/O statistics from ``/sys/class/scsi_tape/st*/stats/``.

Attributes are described in the kernel's Documentation/scsi/st.rst ("Sysfs and
statistics for tape devices"); times are nanoseconds, exported in seconds (x 1e-9).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import list_dir, sys_read_file
from exporters.node.collectors._flags import compile_go_regex, go_match
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "tapestats"
DEFAULT_IGNORED_DEVICES = "^$"
_TAPE_DEVICE = re.compile(r"st[0-9]+")
NS = 0.000000001

# stats file -> (metric, help, type, factor)
STATS: tuple[tuple[str, str, str, str, float], ...] = (
    ("in_flight", "node_tape_io_now", "The number of I/Os currently outstanding to this device.", "gauge", 1.0),
    ("io_ns", "node_tape_io_time_seconds_total",
     "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape "
     "movement commands such as seeking between file or set marks and implicit tape movement such as when rewind "
     "on close tape devices are used.", "counter", NS),
    ("other_cnt", "node_tape_io_others_total",
     "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete "
     "these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-"
     "write_time_seconds_total", "counter", 1.0),
    ("read_byte_cnt", "node_tape_read_bytes_total", "The number of bytes read from the tape drive.", "counter", 1.0),
    ("read_cnt", "node_tape_reads_completed_total", "The number of read requests issued to the tape drive.",
     "counter", 1.0),
    ("read_ns", "node_tape_read_time_seconds_total",
     "The amount of time spent waiting for read requests to complete.", "counter", NS),
    ("resid_cnt", "node_tape_residual_total",
     "The number of times during a read or write we found the residual amount to be non-zero. This should mean "
     "that a program is issuing a read larger thean the block size on tape. For write not all data made it to "
     "tape.", "counter", 1.0),
    ("write_byte_cnt", "node_tape_written_bytes_total", "The number of bytes written to the tape drive.",
     "counter", 1.0),
    ("write_cnt", "node_tape_writes_completed_total", "The number of write requests issued to the tape drive.",
     "counter", 1.0),
    ("write_ns", "node_tape_write_time_seconds_total",
     "The amount of time spent waiting for write requests to complete.", "counter", NS),
)
_KNOWN = {file for file, *_ in STATS}


def read_tape_stats(path: str) -> dict[str, int]:
    """Every known counter in ``<tape>/stats``; absent ones are 0, a bad value is an error."""
    counters = dict.fromkeys(_KNOWN, 0)
    stats_dir = os.path.join(path, "stats")
    for name in list_dir(stats_dir):
        text = sys_read_file(os.path.join(stats_dir, name))
        if name in _KNOWN:
            counters[name] = go_parse_uint(text, 0)
    return counters


class TapestatsCollector:
    def __init__(self, context: NodeContext, ignored: re.Pattern[str]) -> None:
        self.context = context
        self.ignored = ignored

    def collect(self) -> Iterable[Metric]:
        base = self.context.sys("class", "scsi_tape")
        try:
            names = [n for n in list_dir(base) if _TAPE_DEVICE.fullmatch(n)]
        except FileNotFoundError:
            LOGGER.debug("scsi_tape stats not found, skipping", extra={"collector": NAME})
            raise NoDataError("no /sys/class/scsi_tape") from None
        tapes = {name: read_tape_stats(os.path.join(base, name)) for name in names}
        families: list[CounterFamily | GaugeFamily] = []
        for _, metric, doc, typ, _ in STATS:
            if typ == "counter":
                families.append(CounterFamily(metric.removesuffix("_total"), doc, labels=["device"]))
            else:
                families.append(GaugeFamily(metric, doc, labels=["device"]))
        for name, counters in tapes.items():
            if go_match(self.ignored, name):
                LOGGER.debug("Ignoring device", extra={"collector": NAME, "device": name})
                continue
            for family, (file, _, _, _, factor) in zip(families, STATS, strict=True):
                value = float(counters[file])
                family.add_metric([name], value * factor if factor != 1.0 else value)
        return families


@dataclass(frozen=True)
class TapestatsOptions:
    """The tapestats collector's flags (``--collector.tapestats.*``)."""

    ignored_devices: str = option("--collector.tapestats.ignored-devices", DEFAULT_IGNORED_DEVICES,
                                  "Regexp of devices to ignore for tapestats.")


def build(context: NodeContext) -> TapestatsCollector:
    pattern = context.options(TapestatsOptions).ignored_devices
    return TapestatsCollector(context, compile_go_regex(pattern, "--collector.tapestats.ignored-devices"))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Exposes SCSI tape device I/O statistics.", options=TapestatsOptions,
    source="/sys/class/scsi_tape/st<N>/stats/",
)
