"""ksmd: kernel samepage merging from /sys/kernel/mm/ksm/*, ``node_ksmd_*``.

One file per metric; all nine must be readable (KSM built in, kernel 2.6.32+;
merge_across_nodes 3.9+, pages_volatile always).
"""

from __future__ import annotations

from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._files import read_uint_file
from exporters.node.context import NodeContext

NAME = "ksmd"
# file -> (metric, counter?, divisor)
FILES: dict[str, tuple[str, bool, float]] = {
    "full_scans": ("node_ksmd_full_scans_total", True, 1.0),
    "merge_across_nodes": ("node_ksmd_merge_across_nodes", False, 1.0),
    "pages_shared": ("node_ksmd_pages_shared", False, 1.0),
    "pages_sharing": ("node_ksmd_pages_sharing", False, 1.0),
    "pages_to_scan": ("node_ksmd_pages_to_scan", False, 1.0),
    "pages_unshared": ("node_ksmd_pages_unshared", False, 1.0),
    "pages_volatile": ("node_ksmd_pages_volatile", False, 1.0),
    "run": ("node_ksmd_run", False, 1.0),
    "sleep_millisecs": ("node_ksmd_sleep_seconds", False, 1000.0),
}


class KsmdCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        for file, (metric, counter, divisor) in FILES.items():
            value = read_uint_file(self.context.sys("kernel", "mm", "ksm", file)) / divisor
            family = CounterFamily if counter else GaugeFamily
            yield family(metric, f"ksmd '{file}' file.", value=value)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=KsmdCollector, enabled_by_default=False, help="Exposes kernel and system statistics.",
    source="/sys/kernel/mm/ksm/<file>",
)
