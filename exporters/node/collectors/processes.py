"""processes (off by default): process and thread counts by state from /proc/[pid]/stat.

A process can exit between listing /proc and reading its files: such a process (or
thread) is skipped, as upstream does. The process name (``comm``) may contain spaces and
parentheses, so the state is read after the *last* ``)``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text, read_uint_file
from exporters.node.context import NodeContext

NAME = "processes"


@dataclass(frozen=True)
class ProcStat:
    pid: int
    comm: str
    state: str
    num_threads: int


@dataclass
class ProcessCounts:
    pids: int = 0
    threads: int = 0
    states: Counter[str] = field(default_factory=Counter)
    thread_states: Counter[str] = field(default_factory=Counter)


def parse_proc_stat(text: str) -> ProcStat:
    """``/proc/[pid]/stat``: pid, comm in parentheses, then space-separated fields."""
    left = text.find("(")
    right = text.rfind(")")
    if left < 0 or right < left:
        raise ValueError("unexpected format, couldn't extract comm")
    pid = int(text[:left].strip())
    fields = text[right + 2:].split()
    if len(fields) < 18:
        raise ValueError(f"too few fields in stat of pid {pid}")
    # After comm: state(0) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice num_threads(17).
    return ProcStat(pid, text[left + 1:right], fields[0], int(fields[17]))


def list_pids(directory: str) -> list[int]:
    return sorted(int(name) for name in os.listdir(directory) if name.isascii() and name.isdigit())


def read_process_counts(context: NodeContext) -> ProcessCounts:
    counts = ProcessCounts()
    for pid in list_pids(context.proc()):
        try:
            stat = parse_proc_stat(read_text(context.proc(str(pid), "stat")))
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited since the listing
        counts.pids += 1
        counts.states[stat.state] += 1
        counts.threads += stat.num_threads
        count_thread_states(context, stat, counts.thread_states)
    return counts


def count_thread_states(context: NodeContext, process: ProcStat, states: Counter[str]) -> None:
    try:
        tids = list_pids(context.proc(str(process.pid), "task"))
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return
    for tid in tids:
        if tid == process.pid:
            states[process.state] += 1
            continue
        try:
            thread = parse_proc_stat(read_text(context.proc(str(process.pid), "task", str(tid), "stat")))
        except (FileNotFoundError, ProcessLookupError):
            continue
        states[thread.state] += 1


class ProcessesCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        counts = read_process_counts(self.context)
        yield GaugeFamily("node_processes_threads", "Allocated threads in system", value=counts.threads)
        max_threads = read_uint_file(self.context.proc("sys/kernel/threads-max"))
        yield GaugeFamily("node_processes_max_threads", "Limit of threads in the system", value=max_threads)
        state = GaugeFamily("node_processes_state", "Number of processes in each state.", labels=["state"])
        for name, number in sorted(counts.states.items()):
            state.add_metric([name], float(number))
        yield state
        thread_state = GaugeFamily("node_processes_threads_state", "Number of threads in each state.",
                                         labels=["thread_state"])
        for name, number in sorted(counts.thread_states.items()):
            thread_state.add_metric([name], float(number))
        yield thread_state
        pid_max = read_uint_file(self.context.proc("sys/kernel/pid_max"))
        yield GaugeFamily("node_processes_pids", "Number of PIDs", value=counts.pids)
        yield GaugeFamily("node_processes_max_processes", "Number of max PIDs limit", value=pid_max)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=ProcessesCollector, enabled_by_default=False,
    help="Exposes aggregate process statistics from /proc.",
    source="/proc/<pid>/stat and /proc/<pid>/task/<tid>/stat; /proc/sys/kernel/threads-max and pid_max",
)
