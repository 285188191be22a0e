"""ipvs: IP Virtual Server statistics from /proc/net/ip_vs_stats and /proc/net/ip_vs.

Backends are summed per label set chosen with ``--collector.ipvs.backend-labels``
(upstream's default: all six labels, in a fixed order).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.flags import ConfigError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import read_text
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "ipvs"
FULL_BACKEND_LABELS = ("local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark")

# /proc/net/ip_vs_stats third line columns -> (metric, help).
STATS_METRICS = (
    ("node_ipvs_connections", "The total number of connections made."),
    ("node_ipvs_incoming_packets", "The total number of incoming packets."),
    ("node_ipvs_outgoing_packets", "The total number of outgoing packets."),
    ("node_ipvs_incoming_bytes", "The total amount of incoming data."),
    ("node_ipvs_outgoing_bytes", "The total amount of outgoing data."),
)


class Backend(NamedTuple):
    local_address: str
    local_port: int
    local_mark: str
    remote_address: str
    remote_port: int
    proto: str
    weight: int
    active_conn: int
    inact_conn: int


def parse_ipvs_stats(text: str) -> tuple[int, ...]:
    """The five hexadecimal totals on the third line."""
    lines = text.split("\n", 3)
    if len(lines) != 4:
        raise ValueError("ip_vs_stats corrupt: too short")
    fields = lines[2].split()
    if len(fields) != 5:
        raise ValueError("ip_vs_stats corrupt: unexpected number of fields")
    return tuple(go_parse_uint(f, 16) for f in fields)


def _format_ip(packed: bytes) -> str:
    """Go's net.IP.String(): dotted quad for IPv4 and IPv4-mapped, RFC 5952 otherwise."""
    if len(packed) == 4:
        return str(ipaddress.IPv4Address(packed))
    address = ipaddress.IPv6Address(packed)
    return str(address.ipv4_mapped) if address.ipv4_mapped else address.compressed


def parse_ip_port(text: str) -> tuple[str, int]:
    """``0A000001:0050`` (IPv4, hex) or ``[2620:...:0001]:0050`` (IPv6)."""
    if len(text) == 13:
        packed = bytes.fromhex(text[0:8])
        address = _format_ip(packed)
    elif len(text) == 46:
        try:
            address = _format_ip(ipaddress.IPv6Address(text[1:40]).packed)
        except ValueError as err:
            raise ValueError(f"invalid IPv6 addr {text[1:40]}") from err
    else:
        raise ValueError(f"unexpected IP:Port {text}")
    return address, go_parse_uint(text[-4:], 16, 16)


def parse_ipvs_backends(text: str) -> list[Backend]:
    backends = []
    proto, mark, local_address, local_port = "", "", "", 0
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] in ("IP", "Prot") or (len(fields) > 1 and fields[1] == "RemoteAddress:Port"):
            continue
        if fields[0] in ("TCP", "UDP"):
            if len(fields) < 2:
                continue
            proto, mark = fields[0], ""
            local_address, local_port = parse_ip_port(fields[1])
        elif fields[0] == "FWM":
            if len(fields) < 2:
                continue
            proto, mark, local_address, local_port = fields[0], fields[1], "", 0
        elif fields[0] == "->":
            if len(fields) < 6:
                continue
            remote_address, remote_port = parse_ip_port(fields[1])
            backends.append(Backend(
                local_address, local_port, mark, remote_address, remote_port, proto,
                weight=go_parse_uint(fields[3]), active_conn=go_parse_uint(fields[4]),
                inact_conn=go_parse_uint(fields[5]),
            ))
    return backends


def parse_backend_labels(text: str) -> list[str]:
    """Validate ``--collector.ipvs.backend-labels``; the result keeps upstream's order."""
    wanted = {label for label in text.split(",") if label}
    unknown = sorted(wanted - set(FULL_BACKEND_LABELS))
    if unknown:
        raise ConfigError(f'unknown IPVS backend labels: "{", ".join(unknown)}"')
    return [label for label in FULL_BACKEND_LABELS if label in wanted]


def _label_value(backend: Backend, label: str) -> str:
    return {
        "local_address": backend.local_address,
        "local_port": str(backend.local_port),
        "remote_address": backend.remote_address,
        "remote_port": str(backend.remote_port),
        "proto": backend.proto,
        "local_mark": backend.local_mark,
    }[label]


class IpvsCollector:
    def __init__(self, context: NodeContext, backend_labels: list[str]) -> None:
        self.context = context
        self.backend_labels = backend_labels

    def read(self, name: str) -> str:
        return read_text(self.context.proc("net", name))

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterator[Metric]:
        try:
            stats_text = self.read("ip_vs_stats")
        except FileNotFoundError as err:
            raise NoDataError("ipvs collector metrics are not available for this system") from err
        for (name, doc), value in zip(STATS_METRICS, parse_ipvs_stats(stats_text), strict=True):
            yield CounterFamily(name, doc, value=float(value))
        sums: dict[tuple[str, ...], list[int]] = {}
        for backend in parse_ipvs_backends(self.read("ip_vs")):
            key = tuple(_label_value(backend, label) for label in self.backend_labels)
            total = sums.setdefault(key, [0, 0, 0])
            total[0] += backend.active_conn
            total[1] += backend.inact_conn
            total[2] += backend.weight
        labels = self.backend_labels
        active = GaugeFamily("node_ipvs_backend_connections_active",
                                   "The current active connections by local and remote address.", labels=labels)
        inactive = GaugeFamily("node_ipvs_backend_connections_inactive",
                                     "The current inactive connections by local and remote address.", labels=labels)
        weight = GaugeFamily("node_ipvs_backend_weight",
                                   "The current backend weight by local and remote address.", labels=labels)
        for key, (act, inact, wgt) in sums.items():
            active.add_metric(list(key), float(act))
            inactive.add_metric(list(key), float(inact))
            weight.add_metric(list(key), float(wgt))
        yield from (active, inactive, weight)


@dataclass(frozen=True)
class IpvsOptions:
    """The ipvs collector's flags (``--collector.ipvs.*``)."""

    backend_labels: str = option("--collector.ipvs.backend-labels", ",".join(FULL_BACKEND_LABELS),
                                 "Comma separated list for IPVS backend stats labels.")


def build(context: NodeContext) -> IpvsCollector:
    return IpvsCollector(context, parse_backend_labels(context.options(IpvsOptions).backend_labels))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Exposes IPVS status from /proc/net/ip_vs and stats from /proc/net/ip_vs_stats.",
    options=IpvsOptions,
    source="/proc/net/ip_vs_stats (totals) and /proc/net/ip_vs (backends)",
)
