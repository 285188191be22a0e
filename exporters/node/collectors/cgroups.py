"""cgroups: the controllers of /proc/cgroups, ``node_cgroups_cgroups`` and ``node_cgroups_enabled``.

Columns: ``subsys_name hierarchy num_cgroups enabled`` (the ``#`` header is skipped). On a
cgroup v2-only host the counts are those of the v1 hierarchies, mostly 1 per controller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_int
from exporters.node.context import NodeContext

NAME = "cgroups"
HELP = "Current cgroup number of the subsystem."  # upstream uses it for both families


@dataclass(frozen=True)
class CgroupSummary:
    subsys_name: str
    hierarchy: int
    cgroups: int
    enabled: int


def parse_cgroups(text: str) -> list[CgroupSummary]:
    summaries = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 4:
            raise ValueError(f"4+ fields required, found {len(fields)} fields in cgroup info string: {line!r}")
        summaries.append(CgroupSummary(fields[0], *(go_parse_int(f) for f in fields[1:4])))
    return summaries


class CgroupsCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        summaries = parse_cgroups(read_text(self.context.proc("cgroups")))
        cgroups = GaugeFamily("node_cgroups_cgroups", HELP, labels=["subsys_name"])
        enabled = GaugeFamily("node_cgroups_enabled", HELP, labels=["subsys_name"])
        for summary in summaries:
            cgroups.add_metric([summary.subsys_name], summary.cgroups)
            enabled.add_metric([summary.subsys_name], summary.enabled)
        return [cgroups, enabled]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=CgroupsCollector, enabled_by_default=False,
    help="Exposes cgroup summary from /proc/cgroups.",
    source="/proc/cgroups",
)
