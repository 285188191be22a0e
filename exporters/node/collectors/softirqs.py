"""softirqs: /proc/softirqs, ``node_softirqs_functions_total{cpu,type}``.

The first line names the CPUs; each following line is ``TYPE: count per CPU``. Only the
ten types of kernel 4.x+ are read (procfs ``parseSoftirqs``); the CPU label is the column.
"""

from __future__ import annotations

from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

NAME = "softirqs"
# Row label in /proc/softirqs -> the type label, in upstream's output order.
TYPES: dict[str, str] = {
    "HI:": "HI", "TIMER:": "TIMER", "NET_TX:": "NET_TX", "NET_RX:": "NET_RX", "BLOCK:": "BLOCK",
    "IRQ_POLL:": "IRQ_POLL", "TASKLET:": "TASKLET", "SCHED:": "SCHED", "HRTIMER:": "HRTIMER", "RCU:": "RCU",
}


def parse_softirqs(text: str) -> dict[str, list[int]]:
    """type -> per-CPU counts (a type the file repeats: the last line wins)."""
    lines = text.splitlines()
    if not lines:
        raise ValueError("softirqs empty")
    counts: dict[str, list[int]] = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < 2 or parts[0] not in TYPES:
            continue
        counts[TYPES[parts[0]]] = [go_parse_uint(count) for count in parts[1:]]
    return counts


class SoftirqsCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        counts = parse_softirqs(read_text(self.context.proc("softirqs")))
        family = CounterFamily("node_softirqs_functions_total", "Softirq counts per CPU.", labels=["cpu", "type"])
        for kind in TYPES.values():
            for cpu, count in enumerate(counts.get(kind, ())):
                family.add_metric([str(cpu), kind], count)
        yield family


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=SoftirqsCollector, enabled_by_default=False, help="Exposes detailed softirq statistics.",
    source="/proc/softirqs",
)
