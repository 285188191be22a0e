"""boottime (macOS and FreeBSD): ``node_boot_time_seconds`` from the kernel's boot time.

On Linux the stat collector exports it from /proc/stat, so this collector exists only on
the other systems, as upstream's boot_time_bsd.go.
"""

from __future__ import annotations

from exporters.core.collector import Collector, CollectorSpec
from exporters.node.context import PSUTIL_SYSTEMS, NodeContext
from exporters.node.psutil_backend import PsutilBoottimeCollector

NAME = "boottime"
SYSTEMS = PSUTIL_SYSTEMS
"""The systems this collector exists on (``exporters.node.main.collector_specs``)."""


def build(context: NodeContext) -> Collector:
    return PsutilBoottimeCollector()


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Exposes system boot time derived from the kern.boottime sysctl.",
)
