"""meminfo: ``node_memory_<Field>[_bytes]`` for every line of /proc/meminfo.

Names follow upstream: ``Active(anon)`` becomes ``Active_anon``; a value with a unit (kB)
is multiplied by 1024 and gets ``_bytes``; one without (``HugePages_Total``) keeps its name.
Fields come and go with kernel versions (``MemAvailable`` since 3.14), so whatever the
kernel lists is exported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import GaugeFamily, Metric, exact_counter
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

if TYPE_CHECKING:  # macOS and FreeBSD only: imported by build_portable
    from exporters.node.psutil_backend import PsutilMeminfoCollector

NAME = "meminfo"
PARENS = re.compile(r"\((.*)\)")
KIB = 1024.0


def read_meminfo(context: NodeContext) -> str:
    return context.read_text(context.proc("meminfo"))


def parse_meminfo(text: str) -> dict[str, float]:
    """Metric suffix -> value (bytes where the kernel gave kB)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise ValueError(f"invalid line in meminfo: {line}")
        try:
            value = go_parse_float(fields[1])
        except ValueError as err:
            raise ValueError(f"invalid value in meminfo: {err}") from err
        key = PARENS.sub(r"_\1", fields[0][:-1])  # drop the trailing ':'
        if len(fields) == 3:
            value *= KIB
            key += "_bytes"
        elif len(fields) != 2:
            raise ValueError(f"invalid line in meminfo: {line}")
        out[key] = value
    return out


class MeminfoCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        for key, value in parse_meminfo(read_meminfo(self.context)).items():
            name = f"node_memory_{key}"
            documentation = f"Memory information field {key}."
            if key.endswith("_total"):
                family = exact_counter(name, documentation)
                family.add_metric([], value)
                yield family
            else:
                yield GaugeFamily(name, documentation, value=value)


def build_portable(context: NodeContext) -> PsutilMeminfoCollector:
    from exporters.node.psutil_backend import PsutilMeminfoCollector, profile_of

    return PsutilMeminfoCollector(profile_of(context))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=MeminfoCollector, portable=build_portable, enabled_by_default=True,
    help="Exposes memory statistics.",
    source="/proc/meminfo",
    families=(
        FamilyDoc("node_memory_<Field>_bytes", source="/proc/meminfo `<Field>: N kB`, times 1024"),
        FamilyDoc("node_memory_<Field>", source="/proc/meminfo `<Field>: N` (no unit)"),
    ),
)
