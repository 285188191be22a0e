"""netstat: /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6 counters, ``node_netstat_<Proto>_<Field>``.

Only fields whose ``<Proto>_<Field>`` matches ``--collector.netstat.fields`` (unanchored
RE2 search, upstream's default list) are exported, untyped as upstream does. A value
that is not a number fails the whole collector, before any filtering, as upstream.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric, exact_untyped
from exporters.core.options import option
from exporters.node.collectors._flags import compile_go_regex
from exporters.node.collectors._labels import valid_metric_name
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "netstat"
DEFAULT_FIELDS = (
    "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
    "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|"
    "Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"
    "Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)

ProtocolStats = dict[str, dict[str, str]]


def parse_net_stats(text: str, filename: str = "netstat") -> ProtocolStats:
    """Pairs of lines ``Proto: names...`` / ``Proto: values...`` (netstat and snmp)."""
    stats: ProtocolStats = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for i in range(0, len(lines), 2):
        names = lines[i].split(" ")
        values = lines[i + 1].split(" ") if i + 1 < len(lines) else [""]
        if not names[0]:
            raise ValueError(f"malformed line in {filename}: {lines[i]!r}")
        protocol = names[0][:-1]
        if len(names) != len(values):
            raise ValueError(f"mismatch field count mismatch in {filename}: {protocol}")
        stats[protocol] = dict(zip(names[1:], values[1:], strict=True))
    return stats


def parse_snmp6(text: str) -> ProtocolStats:
    """``Ip6InReceives  123`` lines: protocol is the name up to and including the first "6"."""
    stats: ProtocolStats = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        six = fields[0].find("6")
        if six == -1:
            continue
        stats.setdefault(fields[0][: six + 1], {})[fields[0][six + 1:]] = fields[1]
    return stats



class NetstatCollector:
    def __init__(self, context: NodeContext, fields: re.Pattern[str]) -> None:
        self.context = context
        self.fields = fields
        self._selected: dict[tuple[str, tuple[str, ...]], list[tuple[str, str, bool]]] = {}

    def read(self, name: str, optional: bool = False) -> str | None:
        try:
            return self.context.read_text(self.context.proc("net", name), errors="surrogateescape")
        except FileNotFoundError:
            if optional:
                return None
            raise

    def collect(self) -> Iterable[Metric]:
        netstat = parse_net_stats(self.read("netstat") or "", "net/netstat")
        snmp = parse_net_stats(self.read("snmp") or "", "net/snmp")
        snmp6_text = self.read("snmp6", optional=True)  # absent when IPv6 is disabled
        merged = {**netstat, **snmp, **(parse_snmp6(snmp6_text) if snmp6_text is not None else {})}
        families = []
        for protocol, values in merged.items():
            _check_numbers(values)
            for name, metric, valid in self._selection(protocol, tuple(values)):
                if not valid:
                    # client_golang refuses the name (node_exporter panics); skip that field only.
                    LOGGER.warning("skipping field with an invalid metric name", extra={"collector": NAME})
                    continue
                family = exact_untyped(metric, f"Statistic {protocol}{name}.")
                family.add_metric([], go_parse_float(values[name]))
                families.append(family)
        return families

    def _selection(self, protocol: str, names: tuple[str, ...]) -> list[tuple[str, str, bool]]:
        """(field, metric name, valid name?) of the fields ``--collector.netstat.fields`` selects.

        Cached per protocol and field list: the kernel's field names are a fixed set, and
        the regex search of every field was most of this collector's work.
        """
        key = (protocol, names)
        selection = self._selected.get(key)
        if selection is None:
            selection = [
                (name, f"node_netstat_{protocol}_{name}", valid_metric_name(f"node_netstat_{protocol}_{name}"))
                for name in names
                if self.fields.search(f"{protocol}_{name}")
            ]
            if len(self._selected) > 1000:  # field lists that keep changing: do not grow for ever
                self._selected.clear()
            self._selected[key] = selection
        return selection


def _check_numbers(values: dict[str, str]) -> None:
    """Every value must parse as upstream's ParseFloat, selected or not; decimal digits mostly are."""
    raw = list(values.values())
    joined = "".join(raw)
    if joined.isascii() and joined.isdigit() and all(raw) and max(map(len, raw)) < 300:
        return
    for text in raw:
        go_parse_float(text)


@dataclass(frozen=True)
class NetstatOptions:
    """The netstat collector's flags (``--collector.netstat.*``)."""

    fields: str = option("--collector.netstat.fields", DEFAULT_FIELDS,
                         "Regexp of fields to return for netstat collector.")


def build(context: NodeContext) -> NetstatCollector:
    pattern = context.options(NetstatOptions).fields
    return NetstatCollector(context, compile_go_regex(pattern, "--collector.netstat.fields"))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Exposes network statistics from /proc/net/netstat.", options=NetstatOptions,
    source="/proc/net/netstat, /proc/net/snmp, /proc/net/snmp6",
    families=(
        FamilyDoc("node_netstat_<Protocol>6_<Field>", source="/proc/net/snmp6"),
        FamilyDoc("node_netstat_<Protocol>Ext_<Field>", source="/proc/net/netstat"),
        FamilyDoc("node_netstat_<Protocol>_<Field>", source="/proc/net/snmp"),
    ),
)
