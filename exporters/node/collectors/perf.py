"""perf: system-wide hardware, software and cache event counters per CPU, ``node_perf_*{cpu}``.

Counters are opened with perf_event_open(2) (pid -1, one CPU) when the collector is built,
enabled at once, and read on each scrape, as node_exporter does through perf-utils v0.7.0:
one counter per event and CPU, disabled at open, inherited, excluding the hypervisor. An
event the kernel does not have on this machine (ENOENT, EOPNOTSUPP: no PMU in most VMs) is
left out without failing, as upstream does. When no counter at all can be opened (no
CAP_PERFMON and kernel.perf_event_paranoid > 0, or perf_event_open blocked by seccomp), the
collector fails every scrape with the reason (``node_scrape_collector_success 0``), where
upstream reports success with no series; the reason is also logged once when it is built.

``--collector.perf.tracepoint=subsystem:event`` (repeatable) adds tracepoint counters,
opened as one group per CPU from the tracefs event id; ``--collector.perf.cpus`` takes
``0-3,6,8-12:2`` (ranges with an optional stride). As in v1.7.0, the hardware and software
profiler lists add to the full set (so they select nothing), while the cache list replaces
its default.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import platform
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.flags import ConfigError
from exporters.core.metrics import CounterFamily, FamilySet, Metric
from exporters.core.options import option
from exporters.node.collectors._labels import valid_metric_name
from exporters.node.collectors._libc import libc
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "perf"

# linux/perf_event.h
PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT, PERF_TYPE_HW_CACHE = 0, 1, 2, 3
PERF_FORMAT_TOTAL_TIME_ENABLED, PERF_FORMAT_TOTAL_TIME_RUNNING, PERF_FORMAT_GROUP = 1, 2, 8
PERF_SAMPLE_IDENTIFIER = 1 << 16
ATTR_DISABLED, ATTR_INHERIT, ATTR_EXCLUDE_HV = 1 << 0, 1 << 1, 1 << 6
PERF_ATTR_SIZE = 128  # PERF_ATTR_SIZE_VER7 (Linux 5.x); the kernel accepts the zero tail of larger ones
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_IOC_FLAG_GROUP = 1
CACHE_L1D, CACHE_L1I, CACHE_LL, CACHE_ITLB, CACHE_BPU = 0, 1, 2, 4, 5
OP_READ, OP_WRITE = 0, 1
RESULT_ACCESS, RESULT_MISS = 0, 1
# __NR_perf_event_open by machine
SYSCALL_NUMBERS = {"x86_64": 298, "i386": 336, "i686": 336, "aarch64": 241, "armv7l": 364, "armv6l": 364,
                   "ppc64le": 319, "ppc64": 319, "s390x": 331, "riscv64": 241, "loongarch64": 241}
# CONFIG_NR_CPUS is at most 8192; a --collector.perf.cpus list longer than that is a mistake.
MAX_CPUS = 8192
# The exporter's own mount table: tracefs must be reachable where this process runs.
PROC_MOUNTS = "/proc/mounts"


@dataclass(frozen=True)
class PerfEvent:
    """One counter: perf type and config, the metric it feeds and its help."""

    type: int
    config: int
    metric: str
    help: str


def _cache(cache: int, op: int, result: int) -> int:
    return cache | (op << 8) | (result << 16)


HARDWARE_EVENTS: dict[str, PerfEvent] = {
    "CpuCycles": PerfEvent(PERF_TYPE_HARDWARE, 0, "node_perf_cpucycles_total",
                           "Number of CPU cycles (frequency scaled)"),
    "CpuInstr": PerfEvent(PERF_TYPE_HARDWARE, 1, "node_perf_instructions_total", "Number of CPU instructions"),
    "CacheRef": PerfEvent(PERF_TYPE_HARDWARE, 2, "node_perf_cache_refs_total",
                          "Number of cache references (non frequency scaled)"),
    "CacheMisses": PerfEvent(PERF_TYPE_HARDWARE, 3, "node_perf_cache_misses_total", "Number of cache misses"),
    "BranchInstr": PerfEvent(PERF_TYPE_HARDWARE, 4, "node_perf_branch_instructions_total",
                             "Number of CPU branch instructions"),
    "BranchMisses": PerfEvent(PERF_TYPE_HARDWARE, 5, "node_perf_branch_misses_total", "Number of CPU branch misses"),
    "StalledCyclesFrontend": PerfEvent(PERF_TYPE_HARDWARE, 7, "node_perf_stalled_cycles_frontend_total",
                                       "Number of stalled frontend CPU cycles"),
    "StalledCyclesBackend": PerfEvent(PERF_TYPE_HARDWARE, 8, "node_perf_stalled_cycles_backend_total",
                                      "Number of stalled backend CPU cycles"),
    "RefCpuCycles": PerfEvent(PERF_TYPE_HARDWARE, 9, "node_perf_ref_cpucycles_total", "Number of CPU cycles"),
}
SOFTWARE_EVENTS: dict[str, PerfEvent] = {
    "PageFault": PerfEvent(PERF_TYPE_SOFTWARE, 2, "node_perf_page_faults_total", "Number of page faults"),
    "ContextSwitch": PerfEvent(PERF_TYPE_SOFTWARE, 3, "node_perf_context_switches_total",
                               "Number of context switches"),
    "CpuMigration": PerfEvent(PERF_TYPE_SOFTWARE, 4, "node_perf_cpu_migrations_total",
                              "Number of CPU process migrations"),
    "MinorFault": PerfEvent(PERF_TYPE_SOFTWARE, 5, "node_perf_minor_faults_total", "Number of minor page faults"),
    "MajorFault": PerfEvent(PERF_TYPE_SOFTWARE, 6, "node_perf_major_faults_total", "Number of major page faults"),
}
CACHE_EVENTS: dict[str, PerfEvent] = {
    "L1DataReadHit": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_L1D, OP_READ, RESULT_ACCESS),
                               "node_perf_cache_l1d_read_hits_total", "Number L1 data cache read hits"),
    "L1DataReadMiss": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_L1D, OP_READ, RESULT_MISS),
                                "node_perf_cache_l1d_read_misses_total", "Number L1 data cache read misses"),
    "L1DataWriteHit": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_L1D, OP_WRITE, RESULT_ACCESS),
                                "node_perf_cache_l1d_write_hits_total", "Number L1 data cache write hits"),
    "L1InstrReadMiss": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_L1I, OP_READ, RESULT_MISS),
                                 "node_perf_cache_l1_instr_read_misses_total",
                                 "Number instruction L1 instruction read misses"),
    "InstrTLBReadHit": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_ITLB, OP_READ, RESULT_ACCESS),
                                 "node_perf_cache_tlb_instr_read_hits_total", "Number instruction TLB read hits"),
    "InstrTLBReadMiss": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_ITLB, OP_READ, RESULT_MISS),
                                  "node_perf_cache_tlb_instr_read_misses_total", "Number instruction TLB read misses"),
    "LLReadHit": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_LL, OP_READ, RESULT_ACCESS),
                           "node_perf_cache_ll_read_hits_total", "Number last level read hits"),
    "LLReadMiss": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_LL, OP_READ, RESULT_MISS),
                            "node_perf_cache_ll_read_misses_total", "Number last level read misses"),
    "LLWriteHit": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_LL, OP_WRITE, RESULT_ACCESS),
                            "node_perf_cache_ll_write_hits_total", "Number last level write hits"),
    "LLWriteMiss": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_LL, OP_WRITE, RESULT_MISS),
                             "node_perf_cache_ll_write_misses_total", "Number last level write misses"),
    "BPUReadHit": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_BPU, OP_READ, RESULT_ACCESS),
                            "node_perf_cache_bpu_read_hits_total", "Number BPU read hits"),
    "BPUReadMiss": PerfEvent(PERF_TYPE_HW_CACHE, _cache(CACHE_BPU, OP_READ, RESULT_MISS),
                             "node_perf_cache_bpu_read_misses_total", "Number BPU read misses"),
}


FAMILIES = (
    *(FamilyDoc(event.metric, "counter", ("cpu",), event.help)
      for events in (HARDWARE_EVENTS, SOFTWARE_EVENTS, CACHE_EVENTS) for event in events.values()),
    FamilyDoc("node_perf_<subsystem>_<event>", "counter", ("cpu",), "Perf tracepoint <subsystem>:<event>",
              source="the tracepoint <subsystem>:<event> (--collector.perf.tracepoint)"),
)


@dataclass(frozen=True)
class Tracepoint:
    subsystem: str
    event: str

    @property
    def metric(self) -> str:
        return f"node_perf_{self.subsystem}_{self.event}"


# ---------------------------------------------------------------- flags (pure)


def _atoi(text: str, flag_value: str) -> int:
    """Go's strconv.Atoi: optional sign, decimal digits."""
    body = text[1:] if text[:1] in "+-" else text
    if not body.isascii() or not body.isdigit():
        raise ConfigError(f"--collector.perf.cpus: invalid value {flag_value!r}: {text!r} is not a number")
    return int(text)


def parse_cpus(flag_value: str) -> list[int]:
    """``--collector.perf.cpus``: ``N``, ``A-B`` and ``A-B:STRIDE`` items, comma-separated."""
    cpus: list[int] = []
    for subset in flag_value.split(","):
        if "-" not in subset:
            cpus.append(_atoi(subset, flag_value))
        else:
            stride_set = subset.split(":")
            stride = _atoi(stride_set[1], flag_value) if len(stride_set) == 2 else 1
            range_set = stride_set[0].split("-")
            if len(range_set) != 2:
                raise ConfigError(f"--collector.perf.cpus: invalid flag value {flag_value!r}")
            start, end = _atoi(range_set[0], flag_value), _atoi(range_set[1], flag_value)
            if stride < 1 and start <= end:
                # upstream loops forever here
                raise ConfigError(f"--collector.perf.cpus: stride must be positive in {flag_value!r}")
            if start <= end:
                cpus.extend(range(start, end + 1, stride))
        if len(cpus) > MAX_CPUS:
            raise ConfigError(f"--collector.perf.cpus: more than {MAX_CPUS} CPUs in {flag_value!r}")
    return cpus


def parse_tracepoints(values: Sequence[str]) -> list[Tracepoint]:
    tracepoints = []
    for value in values:
        parts = value.split(":")
        if len(parts) != 2:
            raise ConfigError(f"--collector.perf.tracepoint: invalid tracepoint config {value}")
        tracepoint = Tracepoint(*parts)
        if not valid_metric_name(tracepoint.metric):
            raise ConfigError(f"--collector.perf.tracepoint: {value!r} does not make a valid metric name")
        tracepoints.append(tracepoint)
    return tracepoints


def select_events(disable_hardware: bool, disable_software: bool, disable_cache: bool,
                  cache_names: Sequence[str]) -> list[PerfEvent]:
    """The events to open on each CPU. Unknown cache names are ignored, as upstream does;
    the hardware and software lists cannot narrow the full set in v1.7.0, so they are not asked for."""
    events: list[PerfEvent] = []
    if not disable_hardware:
        events.extend(HARDWARE_EVENTS.values())
    if not disable_software:
        events.extend(SOFTWARE_EVENTS.values())
    if not disable_cache:
        if cache_names:
            events.extend(event for name, event in CACHE_EVENTS.items() if name in set(cache_names))
        else:
            events.extend(CACHE_EVENTS.values())
    return events


# ---------------------------------------------------------------- the kernel interface (pure encoders)


def event_attr(type_: int, config: int, flags: int, read_format: int) -> bytes:
    """A ``struct perf_event_attr`` of PERF_ATTR_SIZE bytes (fields up to ``flags``; the rest zero)."""
    attr = bytearray(PERF_ATTR_SIZE)
    # type u32, size u32, config u64, sample_period u64, sample_type u64, read_format u64, flags u64
    struct.pack_into("=IIQQQQQ", attr, 0, type_, PERF_ATTR_SIZE, config, 0, PERF_SAMPLE_IDENTIFIER, read_format, flags)
    return bytes(attr)


def decode_read(data: bytes) -> int:
    """The value of a ``read_format`` TOTAL_TIME_ENABLED|TOTAL_TIME_RUNNING read (value, enabled, running)."""
    if len(data) < 24:
        raise ValueError(f"short perf counter read: {len(data)} bytes")
    value, _enabled, _running = struct.unpack_from("=QQQ", data)
    return int(value)


def decode_group_read(data: bytes, count: int) -> list[int]:
    """The values of a PERF_FORMAT_GROUP read: nr, time_enabled, time_running, value[nr]."""
    if len(data) < 24 + 8 * count:
        raise ValueError(f"short perf group read: {len(data)} bytes for {count} events")
    nr = struct.unpack_from("=Q", data)[0]
    if nr != count:
        raise ValueError(f"perf group read has {nr} events, {count} expected")
    return list(struct.unpack_from(f"={count}Q", data, 24))


def perf_event_open(attr: bytes, pid: int, cpu: int, group_fd: int = -1) -> int:
    """perf_event_open(2); OSError with the kernel's errno when refused."""
    number = SYSCALL_NUMBERS.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"perf_event_open: unknown system call number on {platform.machine()}")
    buffer = ctypes.create_string_buffer(attr, len(attr))
    fd = int(libc().syscall(number, buffer, pid, cpu, group_fd, 0))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def enable(fd: int, group: bool = False) -> None:
    import fcntl

    fcntl.ioctl(fd, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP if group else 0)


def tracefs_mount(mounts_text: str) -> str:
    """The first tracefs mount point of a /proc/mounts text (perf-utils ``TraceFSMount``)."""
    for line in mounts_text.splitlines():
        fields = line.split(" ")
        if len(fields) > 3 and fields[2] == "tracefs":
            return fields[1]
    raise OSError(errno.ENOENT, "Mount for tracefs not mounted")


# ---------------------------------------------------------------- the collector


Opener = Callable[[bytes, int, int, int], int]


@dataclass
class PerfCounters:
    """The counters this collector holds open, and what could not be opened."""

    counters: list[tuple[PerfEvent, int, int]] = field(default_factory=list)
    """(event, cpu, fd)"""
    groups: list[tuple[int, int]] = field(default_factory=list)
    """(cpu, leader fd) of the tracepoint groups."""
    refused: dict[str, OSError] = field(default_factory=dict)
    """What could not be opened -> the kernel's error."""
    fds: list[int] = field(default_factory=list)


class PerfCollector:
    def __init__(self, events: Sequence[PerfEvent], cpus: Sequence[int], tracepoints: Sequence[Tracepoint],
                 opener: Opener = perf_event_open, starter: Callable[[int, bool], None] = enable,
                 reader: Callable[[int, int], bytes] = os.read, mounts: str = PROC_MOUNTS) -> None:
        self.tracepoints = tuple(tracepoints)
        self.reader = reader
        self.state = PerfCounters()
        self._open(events, cpus, opener, starter, mounts)
        if self.state.refused:
            first = next(iter(self.state.refused.values()))
            LOGGER.info(
                "perf counters unavailable",
                extra={"collector": NAME, "count": len(self.state.refused), "opened": len(self.state.fds),
                       "err": f"{next(iter(self.state.refused))}: {first.strerror or first}"},
            )

    def _open(self, events: Sequence[PerfEvent], cpus: Sequence[int], opener: Opener,
              starter: Callable[[int, bool], None], mounts: str) -> None:
        state = self.state
        for cpu in cpus:
            for event in events:
                try:
                    fd = opener(event_attr(event.type, event.config, ATTR_DISABLED | ATTR_EXCLUDE_HV | ATTR_INHERIT,
                                           PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING),
                                -1, cpu, -1)
                except OSError as err:
                    state.refused[f"{event.metric} cpu {cpu}"] = err
                    continue
                state.fds.append(fd)
                try:
                    starter(fd, False)
                except OSError as err:
                    state.refused[f"{event.metric} cpu {cpu}"] = err
                    continue
                state.counters.append((event, cpu, fd))
        if not self.tracepoints:
            return
        try:
            with open(mounts, encoding="utf-8", errors="replace") as f:
                base = tracefs_mount(f.read())
            configs = []
            for tracepoint in self.tracepoints:
                with open(os.path.join(base, "events", tracepoint.subsystem, tracepoint.event, "id")) as f:
                    configs.append(int(f.read().split()[0]))
        except (OSError, ValueError, IndexError) as err:
            state.refused["tracepoints"] = err if isinstance(err, OSError) else OSError(errno.EINVAL, str(err))
            return
        fmt = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING | PERF_FORMAT_GROUP
        for cpu in cpus:
            leader = -1
            try:
                for index, config in enumerate(configs):
                    flags = ATTR_DISABLED | ATTR_EXCLUDE_HV if index == 0 else ATTR_EXCLUDE_HV
                    fd = opener(event_attr(PERF_TYPE_TRACEPOINT, config, flags, fmt), -1, cpu, leader)
                    state.fds.append(fd)
                    leader = fd if index == 0 else leader
                starter(leader, True)
            except OSError as err:
                state.refused[f"tracepoints cpu {cpu}"] = err
                continue
            state.groups.append((cpu, leader))

    def close(self) -> None:
        for fd in self.state.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.state = PerfCounters(refused=self.state.refused)

    def collect(self) -> Iterator[Metric]:
        state = self.state
        if not state.counters and not state.groups and state.refused:
            what, err = next(iter(state.refused.items()))
            raise OSError(err.errno, f"no perf counter could be opened ({len(state.refused)} refused; "
                                     f"{what}: {err.strerror or err})")
        families = FamilySet()
        for event, cpu, fd in state.counters:
            families.counter(event.metric, event.help, ["cpu"]).add_metric(
                [str(cpu)], float(decode_read(self.reader(fd, 24))))
        yield from families.families()
        tracepoint_families = [CounterFamily(t.metric, f"Perf tracepoint {t.subsystem}:{t.event}", labels=["cpu"])
                               for t in self.tracepoints]
        for cpu, leader in state.groups:
            values = decode_group_read(self.reader(leader, 24 + 8 * len(self.tracepoints)), len(self.tracepoints))
            for family, value in zip(tracepoint_families, values, strict=True):
                family.add_metric([str(cpu)], float(value))
        yield from (family for family in tracepoint_families if family.has_samples())
        # upstream refuses to start without its tracepoints; here the other counters are still served
        failed = [what for what in state.refused if what.startswith("tracepoints")]
        if failed:
            err = state.refused[failed[0]]
            raise OSError(err.errno, f"perf tracepoints: {failed[0]}: {err.strerror or err}")


@dataclass(frozen=True)
class PerfOptions:
    """The perf collector's flags (``--collector.perf.*``)."""

    cpus: str = option("--collector.perf.cpus", "", "List of CPUs from which perf metrics should be collected")
    tracepoint: tuple[str, ...] = option("--collector.perf.tracepoint", (), "perf tracepoint that should be collected")
    disable_hardware: bool = option("--collector.perf.disable-hardware-profilers", False,
                                    "disable perf hardware profilers")
    hardware: tuple[str, ...] = option("--collector.perf.hardware-profilers", (),
                                       "perf hardware profilers that should be collected")
    disable_software: bool = option("--collector.perf.disable-software-profilers", False,
                                    "disable perf software profilers")
    software: tuple[str, ...] = option("--collector.perf.software-profilers", (),
                                       "perf software profilers that should be collected")
    disable_cache: bool = option("--collector.perf.disable-cache-profilers", False, "disable perf cache profilers")
    cache: tuple[str, ...] = option("--collector.perf.cache-profilers", (),
                                    "perf cache profilers that should be collected")


def build(context: NodeContext) -> PerfCollector:
    options = context.options(PerfOptions)
    cpus = parse_cpus(options.cpus) if options.cpus else list(range(len(os.sched_getaffinity(0))))
    events = select_events(options.disable_hardware, options.disable_software, options.disable_cache, options.cache)
    return PerfCollector(events, cpus, parse_tracepoints(options.tracepoint))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes perf based metrics (Linux 2.6.31+).",
    options=PerfOptions,
    source="perf_event_open(2), one counter per event and CPU",
    families=FAMILIES,
)
