"""cpu: ``node_cpu_seconds_total{cpu,mode}`` from /proc/stat, plus /proc/cpuinfo and sysfs extras.

- ``node_cpu_guest_seconds_total{cpu,mode}`` (``--collector.cpu.guest``, on by default);
- ``node_cpu_info`` and ``node_cpu_flag_info`` / ``node_cpu_bug_info`` (``--collector.cpu.info``,
  and the ``flags-include`` / ``bugs-include`` regexes, which switch ``info`` on);
- ``node_cpu_frequency_hertz{package,core,cpu}`` from cpuinfo's ``cpu MHz`` when the cpufreq
  collector is off (v1.7.0);
- ``node_cpu_core_throttles_total`` / ``node_cpu_package_throttles_total`` from
  ``/sys/devices/system/cpu/cpu*/thermal_throttle`` (x86 with the therm_throt driver);
- ``node_cpu_isolated`` from ``/sys/devices/system/cpu/isolated``, read once at start.

Counters are kept monotonic across scrapes as upstream does: a counter that goes backwards
keeps its previous value, and an idle counter that drops by 3 s or more is taken for a CPU
hot-plug and resets that CPU's cache.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.deadline import current_deadline
from exporters.core.flags import ConfigError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import read_text
from exporters.node.collectors._flags import compile_go_regex
from exporters.node.collectors._strconv import go_parse_float, go_parse_uint, parse_cpu_range
from exporters.node.collectors.proc_stat import CPU_MODES, parse_stat, read_stat
from exporters.node.context import NodeContext

if TYPE_CHECKING:  # macOS and FreeBSD only: imported by build_portable
    from exporters.node.psutil_backend import PsutilCpuCollector

NAME = "cpu"
LOGGER = logging.getLogger("exporters.node")
JUMP_BACK_SECONDS = 3.0
# Modes of node_cpu_seconds_total, in upstream's order; guest time is exported apart.
SECONDS_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
GUEST_MODES = (("guest", "user"), ("guest_nice", "nice"))

# /proc/cpuinfo key (x86 layout) -> CPUInfo attribute, for the string-valued fields.
CPUINFO_STRINGS = {
    "vendor": "vendor_id",
    "vendor_id": "vendor_id",
    "cpu family": "cpu_family",
    "model": "model",
    "model name": "model_name",
    "stepping": "stepping",
    "microcode": "microcode",
    "cache size": "cache_size",
    "physical id": "physical_id",
    "core id": "core_id",
}
# Numeric cpuinfo fields procfs parses (and fails the whole file on when malformed).
CPUINFO_UINTS = ("siblings", "cpu cores", "cpuid level", "clflush size", "cache_alignment")
CPUINFO_FLOATS = ("bogomips",)


@dataclass
class CPUInfo:
    """One processor's block of /proc/cpuinfo."""

    processor: int
    vendor_id: str = ""
    cpu_family: str = ""
    model: str = ""
    model_name: str = ""
    stepping: str = ""
    microcode: str = ""
    cache_size: str = ""
    physical_id: str = ""
    core_id: str = ""
    mhz: float = 0.0
    flags: list[str] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)


def read_cpuinfo(context: NodeContext) -> str:
    return read_text(context.proc("cpuinfo"))


def parse_cpuinfo(text: str) -> list[CPUInfo]:
    """/proc/cpuinfo in the x86 layout, as procfs reads it (a block per ``processor``)."""
    lines = iter(text.splitlines())
    first = next((line for line in lines if line.strip()), "")
    if not first.startswith("processor") or ":" not in first:
        raise ValueError(f"cannot parse line: {first!r}")
    cpus = [CPUInfo(processor=_processor(first))]
    for line in lines:
        if ":" not in line:
            continue
        parts = line.split(": ", 1)
        key = parts[0].strip()
        if len(parts) == 1:
            continue  # "power management:" with nothing after it
        value = parts[1]
        cpu = cpus[-1]
        if key == "processor":
            cpus.append(CPUInfo(processor=_processor(line)))
        elif key in CPUINFO_STRINGS:
            setattr(cpu, CPUINFO_STRINGS[key], value)
        elif key == "cpu MHz":
            cpu.mhz = go_parse_float(value)
        elif key == "flags":
            cpu.flags = value.split()
        elif key == "bugs":
            cpu.bugs = value.split()
        elif key in CPUINFO_UINTS:
            go_parse_uint(value, 0, 32)
        elif key in CPUINFO_FLOATS:
            go_parse_float(value)
    return cpus


def _processor(line: str) -> int:
    parts = line.split(": ", 1)
    if len(parts) != 2:
        raise ValueError(f"cannot parse line: {line!r}")
    return go_parse_uint(parts[1], 0, 32)


class Throttles(NamedTuple):
    packages: dict[int, int]
    cores: dict[tuple[int, int], int]


def read_thermal_throttles(context: NodeContext) -> Throttles:
    """Per package and per (package, core) throttle counts; the first CPU of each is read."""
    packages: dict[int, int] = {}
    cores: dict[tuple[int, int], int] = {}
    seen_cores: set[tuple[int, int]] = set()
    for cpu in sorted(glob.glob(os.path.join(glob.escape(context.sys("devices/system/cpu")), "cpu[0-9]*"))):
        try:
            package = context.read_uint(os.path.join(cpu, "topology", "physical_package_id"))
            core = context.read_uint(os.path.join(cpu, "topology", "core_id"))
        except (OSError, ValueError):
            continue  # no topology: upstream skips the CPU
        if (package, core) not in seen_cores:
            seen_cores.add((package, core))
            try:
                cores[(package, core)] = context.read_uint(os.path.join(cpu, "thermal_throttle", "core_throttle_count"))
            except (OSError, ValueError):
                pass
        if package not in packages:
            try:
                packages[package] = context.read_uint(
                    os.path.join(cpu, "thermal_throttle", "package_throttle_count"))
            except (OSError, ValueError):
                pass
    return Throttles(packages, cores)


def read_isolated(context: NodeContext) -> list[int] | None:
    """The isolated CPUs, or None when the kernel has no such file."""
    try:
        text = read_text(context.sys("devices/system/cpu/isolated"))
    except FileNotFoundError:
        return None
    try:
        return parse_cpu_range(text)
    except ValueError as err:
        raise ConfigError(f"cpu collector: unable to get isolated cpus: {err}") from err


class CPUStatCache:
    """Keeps each CPU's counters monotonic across scrapes (upstream's updateCPUStats)."""

    def __init__(self) -> None:
        self.stats: dict[int, dict[str, float]] = {}

    def update(self, fresh: dict[int, dict[str, float]]) -> dict[int, dict[str, float]]:
        for cpu, new in fresh.items():
            old = self.stats.get(cpu, dict.fromkeys(CPU_MODES, 0.0))
            if old["idle"] - new["idle"] >= JUMP_BACK_SECONDS:
                LOGGER.debug("CPU Idle counter jumped backwards more than %f seconds, possible hotplug event, "
                             "resetting CPU stats", JUMP_BACK_SECONDS, extra={"collector": NAME, "cpu": cpu})
                old = dict.fromkeys(CPU_MODES, 0.0)
            merged = {}
            for mode in CPU_MODES:
                if new[mode] >= old[mode]:
                    merged[mode] = new[mode]
                else:
                    merged[mode] = old[mode]
                    LOGGER.debug("CPU counter jumped backwards",
                                 extra={"collector": NAME, "cpu": cpu, "mode": mode})
            self.stats[cpu] = merged
        for cpu in [c for c in self.stats if c not in fresh]:
            del self.stats[cpu]  # offline now
        return {cpu: dict(values) for cpu, values in self.stats.items()}


class CpuCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context
        options = context.options(CpuOptions)
        self.guest = options.guest
        self.flags_include = compile_go_regex(options.flags_include, "--collector.cpu.info.flags-include") \
            if options.flags_include else None
        self.bugs_include = compile_go_regex(options.bugs_include, "--collector.cpu.info.bugs-include") \
            if options.bugs_include else None
        self.info = options.info or bool(options.flags_include or options.bugs_include)
        self.frequency_from_cpuinfo = "cpufreq" not in context.enabled
        self.isolated = read_isolated(context)
        self.cache = CPUStatCache()
        self.lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        # A generator: what was yielded before a failure is still exported, as upstream.
        if self.info:
            yield from self.info_metrics(parse_cpuinfo(read_cpuinfo(self.context)))
        deadline = current_deadline()
        stat = parse_stat(read_stat(self.context), lambda: deadline.check("parsing /proc/stat"))
        with self.lock:
            cpus = self.cache.update(stat.cpus)
        seconds = CounterFamily("node_cpu_seconds", "Seconds the CPUs spent in each mode.",
                                      labels=["cpu", "mode"])
        guest = CounterFamily("node_cpu_guest_seconds", "Seconds the CPUs spent in guests (VMs) for each mode.",
                                    labels=["cpu", "mode"])
        for cpu in sorted(cpus):
            values = cpus[cpu]
            for mode in SECONDS_MODES:
                seconds.add_metric([str(cpu), mode], values[mode])
            for source, mode in GUEST_MODES:
                guest.add_metric([str(cpu), mode], values[source])
        yield seconds
        if self.guest:
            yield guest
        if self.isolated is not None:
            isolated = GaugeFamily(
                "node_cpu_isolated",
                "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
                labels=["cpu"])
            for cpu in self.isolated:
                isolated.add_metric([str(cpu)], 1.0)
            yield isolated
        yield from self.throttle_metrics(read_thermal_throttles(self.context))

    def info_metrics(self, cpus: list[CPUInfo]) -> list[Metric]:
        info = GaugeFamily(
            "node_cpu_info", "CPU information from /proc/cpuinfo.",
            labels=["package", "core", "cpu", "vendor", "family", "model", "model_name", "microcode", "stepping",
                    "cachesize"])
        for cpu in cpus:
            info.add_metric([cpu.physical_id, cpu.core_id, str(cpu.processor), cpu.vendor_id, cpu.cpu_family,
                             cpu.model, cpu.model_name, cpu.microcode, cpu.stepping, cpu.cache_size], 1.0)
        out: list[Metric] = [info]
        if self.frequency_from_cpuinfo:
            frequency = GaugeFamily("node_cpu_frequency_hertz", "CPU frequency in hertz from /proc/cpuinfo.",
                                          labels=["package", "core", "cpu"])
            for cpu in cpus:
                frequency.add_metric([cpu.physical_id, cpu.core_id, str(cpu.processor)], cpu.mhz * 1e6)
            out.append(frequency)
        if cpus:
            out.extend(_field_info("node_cpu_flag_info",
                                   "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
                                   "flag", cpus[0].flags, self.flags_include))
            out.extend(_field_info("node_cpu_bug_info",
                                   "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
                                   "bug", cpus[0].bugs, self.bugs_include))
        return out

    @staticmethod
    def throttle_metrics(throttles: Throttles) -> list[Metric]:
        packages = CounterFamily("node_cpu_package_throttles", "Number of times this CPU package has been "
                                       "throttled.", labels=["package"])
        for package, count in sorted(throttles.packages.items()):
            packages.add_metric([str(package)], float(count))
        cores = CounterFamily("node_cpu_core_throttles", "Number of times this CPU core has been throttled.",
                                    labels=["package", "core"])
        for (package, core), count in sorted(throttles.cores.items()):
            cores.add_metric([str(package), str(core)], float(count))
        return [packages, cores]


def _field_info(name: str, documentation: str, label: str, values: list[str],
                include: re.Pattern[str] | None) -> list[Metric]:
    if include is None:
        return []
    family = GaugeFamily(name, documentation, labels=[label])
    for value in values:
        if include.search(value):
            family.add_metric([value], 1.0)
    return [family]


@dataclass(frozen=True)
class CpuOptions:
    """The cpu collector's flags (``--collector.cpu.*``)."""

    guest: bool = option("--collector.cpu.guest", True, "Enables metric node_cpu_guest_seconds_total")
    info: bool = option("--collector.cpu.info", False, "Enables metric cpu_info")
    flags_include: str = option("--collector.cpu.info.flags-include", "",
                                "Filter the `flags` field in cpuInfo with a value that must be a regular expression")
    bugs_include: str = option("--collector.cpu.info.bugs-include", "",
                               "Filter the `bugs` field in cpuInfo with a value that must be a regular expression")


def build_portable(context: NodeContext) -> PsutilCpuCollector:
    from exporters.node.psutil_backend import PsutilCpuCollector, profile_of

    return PsutilCpuCollector(profile_of(context))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=CpuCollector, portable=build_portable, enabled_by_default=True,
    help="Exposes CPU statistics.", options=CpuOptions,
    source="/proc/stat",
    families=(
        FamilyDoc("node_cpu_info", source="/proc/cpuinfo"),
        FamilyDoc("node_cpu_flag_info", source="/proc/cpuinfo"),
        FamilyDoc("node_cpu_bug_info", source="/proc/cpuinfo"),
        FamilyDoc("node_cpu_frequency_hertz", source="/proc/cpuinfo `cpu MHz` (when the cpufreq collector is off)"),
        FamilyDoc("node_cpu_core_throttles_total",
                  source="/sys/devices/system/cpu/cpu<N>/thermal_throttle/core_throttle_count"),
        FamilyDoc("node_cpu_package_throttles_total",
                  source="/sys/devices/system/cpu/cpu<N>/thermal_throttle/package_throttle_count"),
        FamilyDoc("node_cpu_isolated", source="/sys/devices/system/cpu/isolated"),
    ),
)
