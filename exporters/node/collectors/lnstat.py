"""lnstat: the per-CPU network cache statistics of /proc/net/stat/*, ``node_lnstat_<column>_total``.

Each file (arp_cache, ndisc_cache, nf_conntrack, rt_cache...) has a header line of column
names and one line of hexadecimal counters per CPU (procfs ``NetStat``). Series carry the
file name (``subsystem``) and the line's index (``cpu``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import CounterFamily, Metric
from exporters.node.collectors._files import glob_sorted, read_text
from exporters.node.collectors._labels import valid_metric_name
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

NAME = "lnstat"
HELP = "linux network cache stats"


def parse_net_stat(text: str) -> dict[str, list[int]]:
    """column -> one value per CPU line."""
    lines = text.splitlines()
    headers = lines[0].split() if lines else []
    stats: dict[str, list[int]] = {}
    for line in lines[1:]:
        values = line.split()
        if len(values) > len(headers):
            raise ValueError(f"{len(values)} values for {len(headers)} columns")
        for header, value in zip(headers, values, strict=False):
            stats.setdefault(header, []).append(go_parse_uint(value, 16))
    return stats


class LnstatCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        families: dict[str, CounterFamily] = {}
        for path in glob_sorted(self.context.proc("net", "stat", "*")):
            subsystem = os.path.basename(path)
            for header, values in parse_net_stat(read_text(path)).items():
                name = f"node_lnstat_{header}_total"
                if not valid_metric_name(name):
                    continue  # upstream's registry refuses it
                family = families.get(name)
                if family is None:
                    family = families[name] = CounterFamily(name, HELP, labels=["subsystem", "cpu"])
                for cpu, value in enumerate(values):
                    family.add_metric([subsystem, str(cpu)], value)
        return list(families.values())


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=LnstatCollector, enabled_by_default=False, help="Exposes stats from /proc/net/stat/.",
    source="/proc/net/stat/<file>, summed over CPUs",
    families=(FamilyDoc("node_lnstat_<Column>_total"),),
)
