"""loadavg: ``node_load1``, ``node_load5``, ``node_load15`` from /proc/loadavg."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

if TYPE_CHECKING:  # macOS and FreeBSD only: imported by build_portable
    from exporters.node.psutil_backend import PsutilLoadavgCollector

NAME = "loadavg"
# Position in /proc/loadavg -> (metric, help).
LOADS = (
    ("node_load1", "1m load average."),
    ("node_load5", "5m load average."),
    ("node_load15", "15m load average."),
)


def read_loadavg(context: NodeContext) -> str:
    return context.read_text(context.proc("loadavg"))


def parse_loadavg(text: str) -> list[float]:
    fields = text.split()
    if len(fields) < len(LOADS):
        raise ValueError("unexpected content in loadavg")
    try:
        return [go_parse_float(field) for field in fields[: len(LOADS)]]
    except ValueError as err:
        raise ValueError(f"could not parse load: {err}") from err


class LoadavgCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        loads = parse_loadavg(read_loadavg(self.context))
        for (name, documentation), value in zip(LOADS, loads, strict=True):
            yield GaugeFamily(name, documentation, value=value)


def build_portable(context: NodeContext) -> PsutilLoadavgCollector:
    from exporters.node.psutil_backend import PsutilLoadavgCollector

    return PsutilLoadavgCollector()


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=LoadavgCollector, portable=build_portable, enabled_by_default=True, help="Exposes load average.",
    source="/proc/loadavg",
)
