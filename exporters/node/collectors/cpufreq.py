"""cpufreq: CPU frequency scaling from /sys/devices/system/cpu/cpu*/cpufreq.

sysfs gives kHz; the metrics are in Hz (x 1000). ``cpuinfo_cur_freq`` is readable by root
only, so ``node_cpu_frequency_hertz`` is absent for other users, as upstream.
CPUs listed in ``devices/system/cpu/offline`` are skipped.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text, sys_read_file
from exporters.node.collectors._strconv import go_parse_uint, parse_cpu_range
from exporters.node.context import NodeContext

NAME = "cpufreq"
KHZ = 1000.0
# sysfs file -> (metric, help); all per CPU, in upstream's order.
FREQUENCY_FILES = (
    ("cpuinfo_cur_freq", "node_cpu_frequency_hertz", "Current CPU thread frequency in hertz."),
    ("cpuinfo_min_freq", "node_cpu_frequency_min_hertz", "Minimum CPU thread frequency in hertz."),
    ("cpuinfo_max_freq", "node_cpu_frequency_max_hertz", "Maximum CPU thread frequency in hertz."),
    ("scaling_cur_freq", "node_cpu_scaling_frequency_hertz", "Current scaled CPU thread frequency in hertz."),
    ("scaling_min_freq", "node_cpu_scaling_frequency_min_hertz", "Minimum scaled CPU thread frequency in hertz."),
    ("scaling_max_freq", "node_cpu_scaling_frequency_max_hertz", "Maximum scaled CPU thread frequency in hertz."),
)
# Read (and required to parse) though not exported.
OTHER_UINT_FILES = ("cpuinfo_transition_latency",)
# Text files procfs requires: a missing one fails the collector.
STRING_FILES = ("scaling_available_governors", "scaling_driver", "scaling_governor", "related_cpus",
                "scaling_setspeed")


class CPUFreq(NamedTuple):
    cpu: str
    frequencies: dict[str, int]
    """sysfs file name -> kHz, for the files present and readable."""
    strings: dict[str, str]


def read_cpufreq_dir(path: str, cpu: str) -> CPUFreq:
    frequencies: dict[str, int] = {}
    for name in [f for f, _, _ in FREQUENCY_FILES] + list(OTHER_UINT_FILES):
        try:
            frequencies[name] = go_parse_uint(read_text(os.path.join(path, name)).strip())
        except (FileNotFoundError, PermissionError):
            continue
    strings = {name: sys_read_file(os.path.join(path, name)) for name in STRING_FILES}
    return CPUFreq(cpu, frequencies, strings)


def read_cpufreq(context: NodeContext) -> list[CPUFreq]:
    cpus = sorted(glob.glob(os.path.join(glob.escape(context.sys("devices/system/cpu")), "cpu[0-9]*")))
    offline_text = read_text(context.sys("devices/system/cpu/offline"))
    if offline_text.strip():
        offline = {f"cpu{n}" for n in parse_cpu_range(offline_text)}
        cpus = [c for c in cpus if os.path.basename(c) not in offline]
    out = []
    for cpu in cpus:
        path = os.path.join(cpu, "cpufreq")
        if not os.path.exists(path):
            continue
        out.append(read_cpufreq_dir(path, os.path.basename(cpu).removeprefix("cpu")))
    return out


def governors(available: str, current: str) -> list[tuple[str, float]]:
    """(governor, 1 if active else 0) for each available governor (split on single blanks)."""
    return [(name, 1.0 if name == current else 0.0) for name in available.split(" ")]


class CpufreqCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        cpus = read_cpufreq(self.context)
        families = {f: GaugeFamily(metric, documentation, labels=["cpu"])
                    for f, metric, documentation in FREQUENCY_FILES}
        governor = GaugeFamily("node_cpu_scaling_governor", "Current enabled CPU frequency governor.",
                                     labels=["cpu", "governor"])
        for cpu in cpus:
            for name, family in families.items():
                if name in cpu.frequencies:
                    family.add_metric([cpu.cpu], cpu.frequencies[name] * KHZ)
            current = cpu.strings["scaling_governor"]
            if current:
                for name, active in governors(cpu.strings["scaling_available_governors"], current):
                    governor.add_metric([cpu.cpu, name], active)
        yield from families.values()
        yield governor


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=CpufreqCollector, enabled_by_default=True, help="Exposes CPU frequency statistics.",
    source="/sys/devices/system/cpu/cpu<N>/cpufreq/",
)
