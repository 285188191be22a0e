"""schedstat: per-CPU scheduler statistics from /proc/schedstat (``node_schedstat_*{cpu}``).

Columns 7-9 of a ``cpuN`` line are the time spent running and waiting (ns) and the
number of timeslices (Documentation/scheduler/sched-stats.rst).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

NAME = "schedstat"
NS_PER_SEC = 1e9
# Unanchored, as procfs's FindStringSubmatch: the first "cpuN" followed by nine numbers.
CPU_LINE = re.compile(r"cpu([0-9]+)" + r" ([0-9]+)" * 9)


class SchedstatCPU(NamedTuple):
    cpu: str
    running_ns: int
    waiting_ns: int
    timeslices: int


def read_schedstat(context: NodeContext) -> str:
    return read_text(context.proc("schedstat"))


def parse_schedstat(text: str) -> list[SchedstatCPU]:
    out = []
    for line in text.splitlines():
        match = CPU_LINE.search(line)
        if match is None:
            continue
        try:
            values = [go_parse_uint(match[i]) for i in (8, 9, 10)]
        except ValueError:
            continue  # out of uint64 range: the line is skipped, as upstream
        out.append(SchedstatCPU(match[1], *values))
    return out


class SchedstatCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        try:
            cpus = parse_schedstat(read_schedstat(self.context))
        except FileNotFoundError as err:
            raise NoDataError("schedstat file does not exist") from err
        running = CounterFamily("node_schedstat_running_seconds", "Number of seconds CPU spent running a "
                                      "process.", labels=["cpu"])
        waiting = CounterFamily("node_schedstat_waiting_seconds", "Number of seconds spent by processing "
                                      "waiting for this CPU.", labels=["cpu"])
        slices = CounterFamily("node_schedstat_timeslices", "Number of timeslices executed by CPU.",
                                     labels=["cpu"])
        for cpu in cpus:
            running.add_metric([cpu.cpu], cpu.running_ns / NS_PER_SEC)
            waiting.add_metric([cpu.cpu], cpu.waiting_ns / NS_PER_SEC)
            slices.add_metric([cpu.cpu], float(cpu.timeslices))
        return [running, waiting, slices]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=SchedstatCollector, enabled_by_default=True, help="Exposes task scheduler statistics.",
    source="/proc/schedstat",
)
