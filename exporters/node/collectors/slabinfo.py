"""slabinfo: kernel slab caches from /proc/slabinfo (version 2.1, root-only), ``node_slabinfo_*{slab}``.

A cache line has exactly 16 fields once runs of whitespace are one space:
``name active_objs num_objs objsize objperslab pagesperslab : tunables l b s : slabdata a n s``.
The version line and the ``# name`` header are skipped; any other line must parse
(procfs ``parseSlabInfo21``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_int
from exporters.node.context import NodeContext

NAME = "slabinfo"
FIELDS = 16
_SPACE = re.compile(r"\s+")
_SKIPPED = re.compile(r"slabinfo -|# name")

# (attribute, metric, help) in upstream's order.
METRICS = (
    ("active_objects", "node_slabinfo_active_objects",
     "The number of objects that are currently active (i.e., in use)."),
    ("objects", "node_slabinfo_objects",
     "The total number of allocated objects (i.e., objects that are both in use and not in use)."),
    ("object_size", "node_slabinfo_object_size_bytes", "The size of objects in this slab, in bytes."),
    ("objects_per_slab", "node_slabinfo_objects_per_slab", "The number of objects stored in each slab."),
    ("pages_per_slab", "node_slabinfo_pages_per_slab", "The number of pages allocated for each slab."),
)


@dataclass(frozen=True)
class Slab:
    name: str
    active_objects: int
    objects: int
    object_size: int
    objects_per_slab: int
    pages_per_slab: int


def parse_slabinfo(text: str) -> list[Slab]:
    slabs = []
    for line in text.splitlines():
        if _SKIPPED.search(line):
            continue
        fields = _SPACE.sub(" ", line).split(" ")
        if len(fields) != FIELDS:
            raise ValueError(f"unable to parse slabinfo line {line!r}")
        # the tunables and slabdata columns must be numbers too, though nothing reads them
        for index in (8, 9, 10, 13, 14, 15):
            go_parse_int(fields[index])
        slabs.append(Slab(fields[0], *(go_parse_int(f) for f in fields[1:6])))
    return slabs


class SlabinfoCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        slabs = parse_slabinfo(read_text(self.context.proc("slabinfo")))
        for attribute, name, documentation in METRICS:
            family = GaugeFamily(name, documentation, labels=["slab"])
            for slab in slabs:
                family.add_metric([slab.name], getattr(slab, attribute))
            yield family


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=SlabinfoCollector, enabled_by_default=False,
    help="Exposes slab statistics from /proc/slabinfo.",
    source="/proc/slabinfo",
)
