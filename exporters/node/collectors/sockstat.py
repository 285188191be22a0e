"""sockstat: /proc/net/sockstat and sockstat6, ``node_sockstat_<PROTO>_<field>``.

``inuse`` is always reported for a protocol line (0 when the line lacks it, as procfs
does); ``mem`` is in pages and also exported as ``mem_bytes``. A missing file (IPv4 or
IPv6 disabled) is skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._labels import valid_metric_name
from exporters.node.collectors._strconv import go_parse_int
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "sockstat"
OPTIONAL_FIELDS = ("orphan", "tw", "alloc", "mem", "memory")


@dataclass
class SockstatProtocol:
    """One protocol's line of /proc/net/sockstat{,6}."""

    protocol: str
    inuse: int = 0
    optional: dict[str, int] = field(default_factory=dict)


@dataclass
class Sockstat:
    """/proc/net/sockstat{,6}: sockets used and each protocol's counts."""

    used: int | None = None
    protocols: list[SockstatProtocol] = field(default_factory=list)


def parse_sockstat(text: str) -> Sockstat:
    stat = Sockstat()
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 3:
            raise ValueError(f"malformed sockstat line: {line!r}")
        pairs = fields[1:]
        if len(pairs) % 2:
            raise ValueError(f"odd number of fields in key/value pairs {pairs!r}")
        kvs = {}
        for i in range(0, len(pairs), 2):
            kvs[pairs[i]] = go_parse_int(pairs[i + 1], 0)
        protocol = fields[0].removesuffix(":")
        if protocol == "sockets":
            stat.used = kvs.get("used", 0)
            continue
        entry = SockstatProtocol(protocol, inuse=kvs.get("inuse", 0))
        for name in OPTIONAL_FIELDS:
            if name in kvs:
                entry.optional[name] = kvs[name]
        stat.protocols.append(entry)
    return stat


class SockstatCollector:
    def __init__(self, context: NodeContext, page_size: int | None = None) -> None:
        self.context = context
        self.page_size = page_size or os.sysconf("SC_PAGE_SIZE")

    def read(self, name: str) -> str | None:
        try:
            return self.context.read_text(self.context.proc("net", name), errors="surrogateescape")
        except FileNotFoundError:
            return None

    def collect(self) -> Iterable[Metric]:
        metrics: list[Metric] = []
        for filename, is_ipv6 in (("sockstat", False), ("sockstat6", True)):
            text = self.read(filename)
            if text is None:
                continue
            metrics.extend(self.build(parse_sockstat(text), is_ipv6))
        return metrics

    def build(self, stat: Sockstat, is_ipv6: bool) -> list[Metric]:
        out: list[Metric] = []
        if not is_ipv6 and stat.used is not None:
            out.append(_gauge("node_sockstat_sockets_used", "Number of IPv4 sockets in use.", stat.used))
        for proto in stat.protocols:
            pairs = [("inuse", proto.inuse)]
            pairs += [(name, proto.optional[name]) for name in OPTIONAL_FIELDS if name in proto.optional]
            if "mem" in proto.optional:
                pairs.append(("mem_bytes", proto.optional["mem"] * self.page_size))
            for name, value in pairs:
                if not valid_metric_name(f"node_sockstat_{proto.protocol}_{name}"):
                    LOGGER.warning("skipping protocol with an invalid metric name", extra={"collector": NAME})
                    continue
                out.append(_gauge(f"node_sockstat_{proto.protocol}_{name}",
                                  f"Number of {proto.protocol} sockets in state {name}.", value))
        return out


def _gauge(name: str, doc: str, value: int) -> GaugeFamily:
    return GaugeFamily(name, doc, value=float(value))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=SockstatCollector, enabled_by_default=True,
    help="Exposes various statistics from /proc/net/sockstat.",
    source="/proc/net/sockstat and /proc/net/sockstat6",
    families=(
        FamilyDoc("node_sockstat_sockets_used"),
        FamilyDoc("node_sockstat_<Protocol>_<field>"),
    ),
)
