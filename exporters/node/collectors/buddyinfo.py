"""buddyinfo: free memory blocks per order from /proc/buddyinfo, ``node_buddyinfo_blocks``.

Each line is ``Node N, zone NAME c0 c1 ...``: the count of free blocks of 2^order pages
for each order (11 orders on most kernels, MAX_ORDER). Every line must have the same number
of orders (procfs ``parseBuddyInfo``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

NAME = "buddyinfo"
# More orders than any kernel has (MAX_ORDER is 10 or 11 on common configs, up to 15 on ia64).
MAX_ORDERS = 64


@dataclass(frozen=True)
class BuddyZone:
    node: str
    zone: str
    sizes: tuple[float, ...]


def parse_buddyinfo(text: str) -> list[BuddyZone]:
    zones: list[BuddyZone] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            raise ValueError(f"invalid number of fields in buddyinfo line {line!r}")
        counts = parts[4:]
        if len(counts) > MAX_ORDERS:
            raise ValueError(f"{len(counts)} buddyinfo buckets, at most {MAX_ORDERS} expected")
        if zones and len(zones[0].sizes) != len(counts):
            raise ValueError(f"mismatch in number of buddyinfo buckets, previous count {len(zones[0].sizes)}, "
                             f"new count {len(counts)}")
        zones.append(BuddyZone(parts[1].rstrip(","), parts[3].rstrip(","), tuple(go_parse_float(c) for c in counts)))
    return zones


class BuddyinfoCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        zones = parse_buddyinfo(read_text(self.context.proc("buddyinfo")))
        blocks = GaugeFamily("node_buddyinfo_blocks", "Count of free blocks according to size.",
                             labels=["node", "zone", "size"])
        for zone in zones:
            for size, count in enumerate(zone.sizes):
                blocks.add_metric([zone.node, zone.zone, str(size)], count)
        yield blocks


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=BuddyinfoCollector, enabled_by_default=False,
    help="Exposes statistics of memory fragments as reported by /proc/buddyinfo.",
    source="/proc/buddyinfo",
)
