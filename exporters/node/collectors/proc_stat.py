"""stat: kernel counters from /proc/stat (``node_intr_total``, ``node_boot_time_seconds``...).

``parse_stat`` is also the source of the cpu collector's ``node_cpu_seconds_total``: CPU
times are in USER_HZ ticks (100 per second on every Linux ABI, whatever CONFIG_HZ is).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec
from exporters.core.deadline import current_deadline
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import read_text_limited
from exporters.node.collectors._strconv import go_parse_float, go_parse_uint
from exporters.node.context import NodeContext

NAME = "stat"
USER_HZ = 100.0

# /proc/stat cpu columns, in order (fields after guest_nice, from newer kernels, are ignored).
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
# The softirq line's vectors after the total, in order (kernel/softirq.c softirq_to_name).
SOFTIRQ_VECTORS = ("hi", "timer", "net_tx", "net_rx", "block", "block_iopoll", "tasklet", "sched", "hrtimer", "rcu")
# Bounds on what a /proc/stat can be: CONFIG_NR_CPUS is at most 8192 (x86 MAXSMP, powerpc), and
# 8192 CPU lines with every IRQ's count are well under a megabyte. A file past these is not a
# kernel's: the collector fails at once instead of spending the scrape on it.
MAX_CPUS = 16384
MAX_STAT_BYTES = 64 << 20
# Long parse loops look at the scrape deadline this often (lines).
CHECK_EVERY = 4096
# The intr line's per-IRQ counts, all plain uint64 (at most 19 digits): checked in one pass.
_PLAIN_COUNTS = re.compile(r"[0-9]{1,19}(?:\s+[0-9]{1,19})*\s*")
# Single-value lines: key -> ProcStat attribute.
SCALARS = {
    "btime": "boot_time",
    "ctxt": "context_switches",
    "processes": "processes_created",
    "procs_running": "procs_running",
    "procs_blocked": "procs_blocked",
}


@dataclass
class ProcStat:
    """What /proc/stat says; CPU times in seconds."""

    cpu_total: dict[str, float] = field(default_factory=dict)
    cpus: dict[int, dict[str, float]] = field(default_factory=dict)
    intr_total: int = 0
    boot_time: int = 0
    context_switches: int = 0
    processes_created: int = 0
    procs_running: int = 0
    procs_blocked: int = 0
    softirq: dict[str, int] = field(default_factory=dict)


def read_stat(context: NodeContext) -> str:
    return read_text_limited(context.proc("stat"), MAX_STAT_BYTES)


def _no_check() -> None:
    """Stands for the scrape deadline's check where no deadline applies."""


def parse_cpu_line(fields: list[str]) -> tuple[int | None, dict[str, float]]:
    """One ``cpu``/``cpuN`` line: (CPU number or None for the total, mode -> seconds).

    Like procfs's Sscanf: missing trailing columns read as 0 (older kernels have fewer),
    but a malformed column is an error, and so is a line with no number at all.
    """
    label = fields[0]
    values = dict.fromkeys(CPU_MODES, 0.0)
    parsed = 0
    for mode, text in zip(CPU_MODES, fields[1:], strict=False):
        # plain digits (every real line) skip the float grammar: the same value either way
        values[mode] = (int(text) if text.isdigit() and text.isascii() else go_parse_float(text)) / USER_HZ
        parsed += 1
    if parsed == 0:
        raise ValueError(f"couldn't parse {' '.join(fields)!r} (cpu)")
    if label == "cpu":
        return None, values
    number = label[3:]
    if not number.isascii() or not number.lstrip("+-").isdigit():
        raise ValueError(f"couldn't parse {' '.join(fields)!r} (cpu/cpuid)")
    return int(number), values


def parse_stat(text: str, check: Callable[[], None] = _no_check) -> ProcStat:
    """/proc/stat; ``check`` is called every CHECK_EVERY lines (the scrape deadline's check)."""
    stat = ProcStat()
    for number, line in enumerate(text.splitlines()):
        if number % CHECK_EVERY == CHECK_EVERY - 1:
            check()
        head = line.split(None, 2)
        if len(head) < 2:
            continue
        key = head[0]
        if key in SCALARS:
            setattr(stat, SCALARS[key], go_parse_uint(head[1]))
        elif key == "intr":
            stat.intr_total = go_parse_uint(head[1])
            # procfs parses the per-IRQ counts too: one bad one fails the file. Thousands of
            # them, so the plain case is checked in one pass and only a bad line is split.
            if len(head) == 3 and _PLAIN_COUNTS.fullmatch(head[2]) is None:
                for count in head[2].split():
                    go_parse_uint(count)
        elif key == "softirq":
            fields = line.split()
            if len(fields) < 2 + len(SOFTIRQ_VECTORS):
                raise ValueError(f"couldn't parse {line!r} (softirq)")
            go_parse_uint(fields[1])
            stat.softirq = {v: int(go_parse_uint(t)) for v, t in zip(SOFTIRQ_VECTORS, fields[2:], strict=False)}
        elif key.startswith("cpu"):
            cpu, values = parse_cpu_line(line.split())
            if cpu is None:
                stat.cpu_total = values
            else:
                stat.cpus[cpu] = values
                if len(stat.cpus) > MAX_CPUS:
                    raise ValueError(f"more than {MAX_CPUS} CPUs in /proc/stat")
    return stat


class StatCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context
        self.softirq = context.options(StatOptions).softirq

    def collect(self) -> Iterable[Metric]:
        deadline = current_deadline()
        stat = parse_stat(read_stat(self.context), lambda: deadline.check("parsing /proc/stat"))
        yield _counter("node_intr_total", "Total number of interrupts serviced.", stat.intr_total)
        yield _counter("node_context_switches_total", "Total number of context switches.", stat.context_switches)
        yield _counter("node_forks_total", "Total number of forks.", stat.processes_created)
        yield GaugeFamily("node_boot_time_seconds", "Node boot time, in unixtime.", value=stat.boot_time)
        yield GaugeFamily("node_procs_running", "Number of processes in runnable state.",
                                value=stat.procs_running)
        yield GaugeFamily("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.",
                                value=stat.procs_blocked)
        if self.softirq:
            family = CounterFamily("node_softirqs", "Number of softirq calls.", labels=["vector"])
            for vector in SOFTIRQ_VECTORS:
                family.add_metric([vector], float(stat.softirq.get(vector, 0)))
            yield family


def _counter(name: str, documentation: str, value: float) -> CounterFamily:
    return CounterFamily(name.removesuffix("_total"), documentation, value=float(value))


@dataclass(frozen=True)
class StatOptions:
    """The stat collector's flags (``--collector.stat.*``)."""

    softirq: bool = option("--collector.stat.softirq", False, "Export softirq calls per vector")


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=StatCollector, enabled_by_default=True,
    help="Exposes various statistics from /proc/stat.", options=StatOptions,
    source="/proc/stat",
)
