"""pressure: pressure stall information (Linux >= 4.20, CONFIG_PSI) from /proc/pressure/{cpu,io,memory}.

``total=`` is in microseconds; the counters are exported in seconds.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, Metric
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

NAME = "pressure"
RESOURCES = ("cpu", "io", "memory")
# (resource, line kind) -> (metric, help); cpu's "full" line (Linux 5.13) is not exported.
METRICS = {
    ("cpu", "some"): ("node_pressure_cpu_waiting_seconds_total",
                      "Total time in seconds that processes have waited for CPU time"),
    ("io", "some"): ("node_pressure_io_waiting_seconds_total",
                     "Total time in seconds that processes have waited due to IO congestion"),
    ("io", "full"): ("node_pressure_io_stalled_seconds_total",
                     "Total time in seconds no process could make progress due to IO congestion"),
    ("memory", "some"): ("node_pressure_memory_waiting_seconds_total",
                         "Total time in seconds that processes have waited for memory"),
    ("memory", "full"): ("node_pressure_memory_stalled_seconds_total",
                         "Total time in seconds no process could make progress due to memory congestion"),
}
LINE = re.compile(r"(some|full) avg10=(\S+) avg60=(\S+) avg300=(\S+) total=(\d+)")


class PSILine(NamedTuple):
    avg10: float
    avg60: float
    avg300: float
    total: int


def read_pressure(context: NodeContext, resource: str) -> str:
    return context.read_text(context.proc("pressure", resource))


def parse_pressure(text: str) -> dict[str, PSILine]:
    """``some``/``full`` -> values. Other lines are ignored; a malformed some/full line is an error."""
    out: dict[str, PSILine] = {}
    for line in text.splitlines():
        kind = line.split(" ")[0]
        if kind not in ("some", "full"):
            continue
        match = LINE.match(line)
        if match is None:
            raise ValueError(f"malformed pressure line {line!r}")
        out[kind] = PSILine(go_parse_float(match[2]), go_parse_float(match[3]), go_parse_float(match[4]), int(match[5]))
    return out


class PressureCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        for resource in RESOURCES:
            try:
                stats = parse_pressure(read_pressure(self.context, resource))
            except FileNotFoundError as err:
                raise NoDataError("pressure information is unavailable, you need a Linux kernel >= 4.20 "
                                  "and/or CONFIG_PSI enabled for your kernel") from err
            except OSError as err:
                if err.errno == errno.EOPNOTSUPP:
                    raise NoDataError("pressure information is disabled, add psi=1 kernel command line "
                                      "to enable it") from err
                raise
            for (res, kind), (name, documentation) in METRICS.items():
                if res != resource:
                    continue
                if kind not in stats:
                    raise ValueError(f"pressure/{resource}: no {kind!r} line")
                yield CounterFamily(name.removesuffix("_total"), documentation,
                                          value=stats[kind].total / 1000.0 / 1000.0)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=PressureCollector, enabled_by_default=True, help="Exposes pressure stall statistics.",
    source="/proc/pressure/cpu, io and memory",
)
