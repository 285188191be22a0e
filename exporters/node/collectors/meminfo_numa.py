"""meminfo_numa: per-NUMA-node memory from /sys/devices/system/node/nodeN/{meminfo,numastat}.

``meminfo`` lines are ``Node N Field: value [kB]`` -> gauge ``node_memory_numa_<Field>``
(kB scaled to bytes, ``Active(anon)`` spelt ``Active_anon``); ``numastat`` lines are
``field value`` -> counter ``node_memory_numa_<field>_total``. The ``node`` label of a
meminfo series is the line's own node number; that of a numastat series the directory's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import FamilySet, Metric
from exporters.node.collectors._files import glob_sorted, read_text
from exporters.node.collectors._labels import valid_metric_name
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

NAME = "meminfo_numa"
_PARENTHESES = re.compile(r"\((.*)\)")
_NODE_DIR = re.compile(r".*devices/system/node/node([0-9]*)")


@dataclass(frozen=True)
class NumaValue:
    name: str
    """Without the ``node_memory_numa_`` prefix."""
    counter: bool
    node: str
    value: float


def parse_meminfo_numa(text: str) -> list[NumaValue]:
    values = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 4:
            raise ValueError(f"invalid line in meminfo: {line!r}")
        try:
            value = go_parse_float(parts[3])
        except ValueError as err:
            raise ValueError(f"invalid value in meminfo: {err}") from None
        if len(parts) == 5 and parts[4] == "kB":
            value *= 1024
        elif len(parts) != 4:
            raise ValueError(f"invalid line in meminfo: {line!r}")
        name = _PARENTHESES.sub(r"_\1", parts[2].rstrip(":"))
        values.append(NumaValue(name, False, parts[1], value))
    return values


def parse_numastat(text: str, node: str) -> list[NumaValue]:
    values = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"line scan did not return 2 fields: {line!r}")
        try:
            value = go_parse_float(parts[1])
        except ValueError as err:
            raise ValueError(f"invalid value in numastat: {err}") from None
        values.append(NumaValue(parts[0] + "_total", True, node, value))
    return values


class MeminfoNumaCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def read(self) -> list[NumaValue]:
        values: list[NumaValue] = []
        for directory in glob_sorted(self.context.sys("devices", "system", "node", "node[0-9]*")):
            values.extend(parse_meminfo_numa(read_text(os.path.join(directory, "meminfo"))))
            stat_text = read_text(os.path.join(directory, "numastat"))
            match = _NODE_DIR.match(directory)
            if match is None:
                raise ValueError(f"device node string didn't match regexp: {directory}")
            values.extend(parse_numastat(stat_text, match.group(1)))
        return values

    def collect(self) -> Iterable[Metric]:
        families = FamilySet()
        for value in self.read():
            name = f"node_memory_numa_{value.name}"
            if name not in families and not valid_metric_name(name):
                continue
            make = families.counter if value.counter else families.gauge
            make(name, f"Memory information field {value.name}.", ["node"]).add_metric([value.node], value.value)
        return families.families()


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=MeminfoNumaCollector, enabled_by_default=False,
    help="Exposes memory statistics from /sys/devices/system/node/node[0-9]*/meminfo, numastat.",
    source="/sys/devices/system/node/node<N>/meminfo and numastat",
    families=(
        FamilyDoc("node_memory_numa_<Field>_total", source="/sys/devices/system/node/node<N>/numastat"),
        FamilyDoc("node_memory_numa_<Field>", source="/sys/devices/system/node/node<N>/meminfo"),
    ),
)
