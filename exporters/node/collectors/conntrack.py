"""conntrack: netfilter connection tracking (``node_nf_conntrack_*``).

Table size and limit come from /proc/sys/net/netfilter; the ``stat_*`` gauges are the sums
over CPUs of /proc/net/stat/nf_conntrack (hexadecimal columns, one row per CPU).
"""

from __future__ import annotations

from collections.abc import Iterable

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

NAME = "conntrack"
# /proc/net/stat/nf_conntrack column -> (metric suffix, help). search_restart is column 16,
# present since Linux 4.10 (17 columns); older kernels have 16.
STAT_COLUMNS: tuple[tuple[int, str, str], ...] = (
    (2, "found", "Number of searched entries which were successful."),
    (4, "invalid", "Number of packets seen which can not be tracked."),
    (5, "ignore", "Number of packets seen which are already connected to a conntrack entry."),
    (8, "insert", "Number of entries inserted into the list."),
    (9, "insert_failed", "Number of entries for which list insertion was attempted but failed."),
    (10, "drop", "Number of packets dropped due to conntrack failure."),
    (11, "early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size "
                       "was reached."),
    (16, "search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."),
)


def read_conntrack_stat(context: NodeContext) -> str:
    return context.read_text(context.proc("net/stat/nf_conntrack"))


def parse_conntrack_stat(text: str) -> dict[str, int]:
    """Column sums over the per-CPU rows (the first line is the header)."""
    sums = {name: 0 for _, name, _ in STAT_COLUMNS}
    for line in text.splitlines()[1:]:
        fields = line.split()
        values = [go_parse_uint(field, 16) for field in fields]
        if not 16 <= len(values) <= 17:
            raise ValueError(f"invalid conntrackstat entry, invalid number of fields: {len(values)}")
        for column, name, _ in STAT_COLUMNS:
            if column < len(values):
                sums[name] = (sums[name] + values[column]) & 0xFFFFFFFFFFFFFFFF
    return sums


class ConntrackCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        try:
            count = self.context.read_uint(self.context.proc("sys/net/netfilter/nf_conntrack_count"))
            yield GaugeFamily("node_nf_conntrack_entries",
                                    "Number of currently allocated flow entries for connection tracking.", value=count)
            limit = self.context.read_uint(self.context.proc("sys/net/netfilter/nf_conntrack_max"))
            yield GaugeFamily("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.",
                                    value=limit)
            stats = parse_conntrack_stat(read_conntrack_stat(self.context))
        except FileNotFoundError as err:
            raise NoDataError("conntrack probably not loaded") from err
        for _, name, documentation in STAT_COLUMNS:
            yield GaugeFamily(f"node_nf_conntrack_stat_{name}", documentation, value=stats[name])


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=ConntrackCollector, enabled_by_default=True,
    help="Shows conntrack statistics (does nothing if no /proc/sys/net/netfilter/ present).",
    source="/proc/sys/net/netfilter/nf_conntrack_count and nf_conntrack_max (entries, entries_limit); "
    "/proc/net/stat/nf_conntrack summed over CPUs (stat_*)",
)
