"""softnet: /proc/net/softnet_stat, ``node_softnet_*{cpu}``.

Columns are hexadecimal; their number grew with the kernel: 9 (2.6.23), 10 with
received_rps (2.6.39), 11 with flow_limit_count (4.18), 13 with backlog length and the
CPU index (5.14). Older kernels get the line number as the CPU index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

NAME = "softnet"
MIN_COLUMNS = 9

# (field, metric name, help, counter?) in upstream order.
METRICS = (
    ("processed", "node_softnet_processed", "Number of processed packets", True),
    ("dropped", "node_softnet_dropped", "Number of dropped packets", True),
    ("time_squeezed", "node_softnet_times_squeezed", "Number of times processing packets ran out of quota", True),
    ("cpu_collision", "node_softnet_cpu_collision",
     "Number of collision occur while obtaining device lock while transmitting", True),
    ("received_rps", "node_softnet_received_rps", "Number of times cpu woken up received_rps", True),
    ("flow_limit_count", "node_softnet_flow_limit_count", "Number of times flow limit has been reached", True),
    ("backlog_len", "node_softnet_backlog_len", "Softnet backlog status", False),
)


@dataclass
class SoftnetStat:
    """One CPU's line of /proc/net/softnet_stat."""

    processed: int = 0
    dropped: int = 0
    time_squeezed: int = 0
    cpu_collision: int = 0
    received_rps: int = 0
    flow_limit_count: int = 0
    backlog_len: int = 0
    index: int = 0


def parse_softnet(text: str) -> list[SoftnetStat]:
    stats = []
    for line_number, line in enumerate(text.splitlines()):
        columns = line.split()
        if len(columns) < MIN_COLUMNS:
            raise ValueError(f"detected {len(columns)} columns, but expected at least {MIN_COLUMNS}")
        values = [go_parse_uint(c, 16, 32) for c in columns[: min(len(columns), 13)]]
        stat = SoftnetStat(processed=values[0], dropped=values[1], time_squeezed=values[2],
                           cpu_collision=values[8], index=line_number)
        if len(columns) >= 10:
            stat.received_rps = values[9]
        if len(columns) >= 11:
            stat.flow_limit_count = values[10]
        if len(columns) >= 13:
            stat.backlog_len = values[11]
            stat.index = values[12]
        stats.append(stat)
    return stats


class SoftnetCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def read(self) -> str:
        return self.context.read_text(self.context.proc("net", "softnet_stat"))

    def collect(self) -> Iterable[Metric]:
        stats = parse_softnet(self.read())
        families: list[Metric] = []
        for attr, name, doc, counter in METRICS:
            family: Metric = (CounterFamily(name, doc, labels=["cpu"]) if counter
                              else GaugeFamily(name, doc, labels=["cpu"]))
            for stat in stats:
                family.add_metric([str(stat.index)], float(getattr(stat, attr)))  # type: ignore[attr-defined]
            families.append(family)
        return families


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=SoftnetCollector, enabled_by_default=True,
    help="Exposes statistics from /proc/net/softnet_stat.",
    source="/proc/net/softnet_stat",
)
