"""Per-process accounting read from procfs: CPU seconds and resident memory.

Each exporter is measured by its own kernel accounting (``/proc/<pid>/stat`` utime+stime,
``/proc/<pid>/status`` VmRSS/VmHWM), so the figures do not depend on what the exporter
reports about itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    cpu_seconds: float
    rss_bytes: int
    hwm_bytes: int


def parse_stat_cpu(text: str, ticks_per_second: int = CLOCK_TICKS) -> float:
    """utime+stime+cutime+cstime in seconds from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may contain spaces and ``)``, so the
    fields are counted from the last ``)``.
    """
    rest = text[text.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime, stime are fields 14, 15 and cutime, cstime (children
    # waited for, e.g. a helper command an exporter runs) fields 16, 17.
    return sum(int(v) for v in rest[11:15]) / ticks_per_second


def parse_status_memory(text: str) -> tuple[int, int]:
    """(VmRSS, VmHWM) in bytes from the text of /proc/<pid>/status; 0 where absent."""
    values = {"VmRSS": 0, "VmHWM": 0}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in values:
            parts = value.split()
            if parts and parts[0].isdigit():
                values[key] = int(parts[0]) * 1024  # the kernel reports kB
    return values["VmRSS"], values["VmHWM"]


def read_children(pid: int, procfs: str = "/proc") -> list[int]:
    """The live child processes of ``pid`` (``/proc/<pid>/task/*/children``, Linux 3.5+)."""
    out: list[int] = []
    try:
        tasks = os.listdir(os.path.join(procfs, str(pid), "task"))
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(os.path.join(procfs, str(pid), "task", tid, "children")) as f:
                out.extend(int(child) for child in f.read().split())
        except (OSError, ValueError):
            continue
    return out


def _read_one(pid: int, procfs: str) -> ProcSample:
    with open(os.path.join(procfs, str(pid), "stat")) as f:
        cpu = parse_stat_cpu(f.read())
    with open(os.path.join(procfs, str(pid), "status")) as f:
        rss, hwm = parse_status_memory(f.read())
    return ProcSample(cpu, rss, hwm)


def read_proc_sample(pid: int, procfs: str = "/proc") -> ProcSample:
    """CPU and memory of ``pid`` and its live descendants now; OSError when ``pid`` is gone.

    An exporter with worker processes (``--scrape.processes``) is measured whole: their CPU
    seconds and RSS are added to the parent's (a child that exits while measured has its CPU
    in the parent's cutime once waited for). The peak is the sum of each process's VmHWM, an
    upper bound of the peak of the sum.
    """
    total = _read_one(pid, procfs)
    pending = read_children(pid, procfs)
    seen = {pid}
    while pending:
        child = pending.pop()
        if child in seen:
            continue
        seen.add(child)
        try:
            one = _read_one(child, procfs)
        except OSError:  # exited meanwhile
            continue
        total = ProcSample(total.cpu_seconds + one.cpu_seconds, total.rss_bytes + one.rss_bytes,
                           total.hwm_bytes + one.hwm_bytes)
        pending.extend(read_children(child, procfs))
    return total


def read_loadavg(procfs: str = "/proc") -> tuple[float, float, float]:
    with open(os.path.join(procfs, "loadavg")) as f:
        fields = f.read().split()
    return float(fields[0]), float(fields[1]), float(fields[2])
