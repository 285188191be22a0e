"""sysctl: chosen /proc/sys values, ``node_sysctl_<name>`` and ``node_sysctl_info``.

``--collector.sysctl.include=NAME[:key1,key2,...]`` (repeatable) exports a numeric sysctl:
one value as ``node_sysctl_<name>``, several as ``{index="i"}`` series, or, with keys, one
``node_sysctl_<name>_<key>`` per value. ``--collector.sysctl.include-info=NAME`` exports
a string sysctl as ``node_sysctl_info{name,value,index}``. Values are the whitespace-
separated fields of one 128-byte read of /proc/sys/<name with dots as slashes> (procfs
``SysctlStrings``/``SysctlInts``); numbers take Go's base prefixes (0x, 0o, 0b, 0).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import GaugeFamily, Metric, exact_untyped
from exporters.core.options import option
from exporters.node.collectors._files import sys_read_file
from exporters.node.collectors._labels import sanitize_metric_name, valid_metric_name
from exporters.node.collectors._strconv import go_parse_int
from exporters.node.context import NodeContext

NAME = "sysctl"
INFO = ("node_sysctl_info", "sysctl info")


@dataclass(frozen=True)
class Sysctl:
    name: str
    numeric: bool
    keys: tuple[str, ...] = ()

    @property
    def metric_name(self) -> str:
        return "node_sysctl_" + sanitize_metric_name(self.name)


def parse_include(include: str, numeric: bool) -> Sysctl:
    """``NAME`` or ``NAME:key1,key2`` (node_exporter ``newSysctl``)."""
    name, sep, keys = include.partition(":")
    return Sysctl(name, numeric, tuple(keys.split(",")) if sep else ())


def parse_sysctl_values(text: str, numeric: bool) -> list[str | int]:
    fields = text.split()
    if not numeric:
        return list(fields)
    values: list[str | int] = []
    for index, field in enumerate(fields):
        try:
            values.append(go_parse_int(field, 0))
        except ValueError as err:
            raise ValueError(f"field {index} is not a valid int: {err}") from None
    return values


def sysctl_metrics(sysctl: Sysctl, values: Sequence[str | int], info: GaugeFamily) -> list[Metric]:
    """The families of one sysctl's values (node_exporter ``newMetrics``); string values go to ``info``."""
    if not values:
        raise ValueError(f"sysctl {sysctl.name} has no values")
    if len(values) == 1 and sysctl.keys:
        raise ValueError(f"sysctl {sysctl.name} has only one value, but expected {list(sysctl.keys)}")
    if len(values) > 1 and sysctl.keys and len(values) != len(sysctl.keys):
        raise ValueError(f"sysctl {sysctl.name} has {len(values)} keys but only {len(sysctl.keys)} defined in flag")
    if not sysctl.numeric:
        if sysctl.keys:
            raise ValueError("mapped sysctl string values not supported")
        for index, text in enumerate(values):
            info.add_metric([sysctl.name, str(text), str(index)], 1.0)
        return []
    numbers = [float(v) for v in values]
    if sysctl.keys:
        families = [(f"{sysctl.metric_name}_{key}", f"sysctl {sysctl.name}, field {index}", number)
                    for index, (key, number) in enumerate(zip(sysctl.keys, numbers, strict=True))]
    elif len(numbers) == 1:
        families = [(sysctl.metric_name, f"sysctl {sysctl.name}", numbers[0])]
    else:
        indexed = exact_untyped(sysctl.metric_name, f"sysctl {sysctl.name}", ["index"])
        for index, number in enumerate(numbers):
            indexed.add_metric([str(index)], number)
        return [indexed]
    out: list[Metric] = []
    for name, documentation, number in families:
        if not valid_metric_name(name):
            raise ValueError(f"sysctl {sysctl.name}: {name!r} is not a valid metric name")
        family = exact_untyped(name, documentation)
        family.add_metric([], number)
        out.append(family)
    return out


class SysctlCollector:
    def __init__(self, context: NodeContext, sysctls: Sequence[Sysctl]) -> None:
        self.context = context
        self.sysctls = tuple(sysctls)

    def read(self, sysctl: Sysctl) -> list[str | int]:
        path = self.context.proc("sys", sysctl.name.replace(".", "/"))
        try:
            return parse_sysctl_values(sys_read_file(path), sysctl.numeric)
        except (OSError, ValueError) as err:
            raise ValueError(f"error obtaining sysctl info: {sysctl.name}: {err}") from err

    def collect(self) -> Iterator[Metric]:
        info = GaugeFamily(*INFO, labels=["name", "value", "index"])
        try:
            for sysctl in self.sysctls:
                yield from sysctl_metrics(sysctl, self.read(sysctl), info)
        finally:
            # what was read before a failing sysctl is still served, as upstream sends it before the error
            if info.has_samples():
                yield info


@dataclass(frozen=True)
class SysctlOptions:
    """The sysctl collector's flags (``--collector.sysctl.*``)."""

    include: tuple[str, ...] = option("--collector.sysctl.include", (), "Select sysctl metrics to include")
    include_info: tuple[str, ...] = option("--collector.sysctl.include-info", (),
                                           "Select sysctl metrics to include as info metrics")


def build(context: NodeContext) -> SysctlCollector:
    options = context.options(SysctlOptions)
    return SysctlCollector(context, [*(parse_include(i, True) for i in options.include),
                                     *(parse_include(i, False) for i in options.include_info)])


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Expose sysctl values from /proc/sys.",
    options=SysctlOptions,
    source="/proc/sys/<name> (dots are slashes) for each --collector.sysctl.include and include-info",
    families=(
        FamilyDoc("node_sysctl_info"),
        FamilyDoc("node_sysctl_<name>", help="sysctl <name with dots>"),
    ),
)
