"""zoneinfo: per-zone memory statistics from /proc/zoneinfo, ``node_zoneinfo_*{node,zone}``.

The file is cut into blocks at each line starting with ``Node``; a block's ``N, zone NAME``
names it and its ``field value`` lines give the values (procfs ``parseZoneinfo``: the last
occurrence wins, the per-node stats printed in a node's first zone count for that zone, a
value that is not an integer is left out). ``protection: (a, b, ...)`` gives
``node_zoneinfo_protection_<i>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_int
from exporters.node.context import NodeContext

NAME = "zoneinfo"
_NODE_ZONE = re.compile(r"(\d+), zone\s+(\w+)")
# The kernel prints one protection value per zone type (at most 6: DMA, DMA32, Normal, HighMem, Movable, Device).
MAX_PROTECTION = 16

# /proc/zoneinfo field -> (metric, help, counter?), in upstream's order (procfs's Zoneinfo struct).
FIELDS: dict[str, tuple[str, str, bool]] = {
    "nr_free_pages": ("node_zoneinfo_nr_free_pages", "Total number of free pages in the zone", False),
    "min": ("node_zoneinfo_min_pages", "Zone watermark pages_min", False),
    "low": ("node_zoneinfo_low_pages", "Zone watermark pages_low", False),
    "high": ("node_zoneinfo_high_pages", "Zone watermark pages_high", False),
    "scanned": ("node_zoneinfo_scanned_pages", "Pages scanned since last reclaim", False),
    "spanned": ("node_zoneinfo_spanned_pages", "Total pages spanned by the zone, including holes", False),
    "present": ("node_zoneinfo_present_pages", "Physical pages existing within the zone", False),
    "managed": ("node_zoneinfo_managed_pages", "Present pages managed by the buddy system", False),
    "nr_active_anon": ("node_zoneinfo_nr_active_anon_pages", "Number of anonymous pages recently more used", False),
    "nr_inactive_anon": ("node_zoneinfo_nr_inactive_anon_pages", "Number of anonymous pages recently less used",
                         False),
    "nr_isolated_anon": ("node_zoneinfo_nr_isolated_anon_pages", "Temporary isolated pages from anon lru", False),
    "nr_anon_pages": ("node_zoneinfo_nr_anon_pages", "Number of anonymous pages currently used by the system", False),
    "nr_anon_transparent_hugepages": ("node_zoneinfo_nr_anon_transparent_hugepages",
                                      "Number of anonymous transparent huge pages currently used by the system",
                                      False),
    "nr_active_file": ("node_zoneinfo_nr_active_file_pages", "Number of active pages with file-backing", False),
    "nr_inactive_file": ("node_zoneinfo_nr_inactive_file_pages", "Number of inactive pages with file-backing", False),
    "nr_isolated_file": ("node_zoneinfo_nr_isolated_file_pages", "Temporary isolated pages from file lru", False),
    "nr_file_pages": ("node_zoneinfo_nr_file_pages", "Number of file pages", False),
    "nr_slab_reclaimable": ("node_zoneinfo_nr_slab_reclaimable_pages", "Number of reclaimable slab pages", False),
    "nr_slab_unreclaimable": ("node_zoneinfo_nr_slab_unreclaimable_pages", "Number of unreclaimable slab pages",
                              False),
    "nr_mlock_stack": ("node_zoneinfo_nr_mlock_stack_pages", "mlock()ed pages found and moved off LRU", False),
    "nr_kernel_stack": ("node_zoneinfo_nr_kernel_stacks", "Number of kernel stacks", False),
    "nr_mapped": ("node_zoneinfo_nr_mapped_pages", "Number of mapped pages", False),
    "nr_dirty": ("node_zoneinfo_nr_dirty_pages", "Number of dirty pages", False),
    "nr_writeback": ("node_zoneinfo_nr_writeback_pages", "Number of writeback pages", False),
    "nr_unevictable": ("node_zoneinfo_nr_unevictable_pages", "Number of unevictable pages", False),
    "nr_shmem": ("node_zoneinfo_nr_shmem_pages", "Number of shmem pages (included tmpfs/GEM pages)", False),
    "nr_dirtied": ("node_zoneinfo_nr_dirtied_total", "Page dirtyings since bootup", True),
    "nr_written": ("node_zoneinfo_nr_written_total", "Page writings since bootup", True),
    "numa_hit": ("node_zoneinfo_numa_hit_total", "Allocated in intended node", True),
    "numa_miss": ("node_zoneinfo_numa_miss_total", "Allocated in non intended node", True),
    "numa_foreign": ("node_zoneinfo_numa_foreign_total", "Was intended here, hit elsewhere", True),
    "numa_interleave": ("node_zoneinfo_numa_interleave_total", "Interleaver preferred this zone", True),
    "numa_local": ("node_zoneinfo_numa_local_total", "Allocation from local node", True),
    "numa_other": ("node_zoneinfo_numa_other_total", "Allocation from other node", True),
}


@dataclass
class Zone:
    node: str = ""
    zone: str = ""
    values: dict[str, int] = field(default_factory=dict)
    """FIELDS key -> value, for the fields present and valid."""
    protection: list[int] = field(default_factory=list)


def _parse_protection(line: str) -> list[int] | None:
    """``protection: (0, 2815, 15783)`` -> the values, or None when one is not an integer."""
    text = line.split(":")[1].replace("(", "", 1).replace(")", "", 1).strip()
    try:
        values = [go_parse_int(v) for v in text.split(", ")]
    except ValueError:
        return None
    return values if len(values) <= MAX_PROTECTION else None


def parse_zoneinfo(text: str) -> list[Zone]:
    zones = []
    for block in text.split("\nNode"):
        zone = Zone()
        for line in block.split("\n"):
            match = _NODE_ZONE.search(line)
            if match is not None:
                zone.node, zone.zone = match.group(1), match.group(2)
                continue
            parts = line.split()
            if len(parts) < 2 or parts[0] == "per-node":
                continue
            if parts[0] in FIELDS:
                try:
                    zone.values[parts[0]] = go_parse_int(parts[1], 0)
                except ValueError:
                    zone.values.pop(parts[0], None)  # the last occurrence wins, valid or not
            elif parts[0] == "protection:":
                protection = _parse_protection(line)
                if protection is not None:
                    zone.protection = protection
        zones.append(zone)
    return zones


class ZoneinfoCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        zones = parse_zoneinfo(read_text(self.context.proc("zoneinfo")))
        families: dict[str, CounterFamily | GaugeFamily] = {}
        for key, (name, documentation, counter) in FIELDS.items():
            families[key] = (CounterFamily if counter else GaugeFamily)(name, documentation, labels=["node", "zone"])
        protections: list[GaugeFamily] = []
        for zone in zones:
            for key, value in zone.values.items():
                families[key].add_metric([zone.node, zone.zone], value)
            for index, value in enumerate(zone.protection):
                if index == len(protections):
                    protections.append(GaugeFamily(f"node_zoneinfo_protection_{index}",
                                                   f"Protection array {index}. field", labels=["node", "zone"]))
                protections[index].add_metric([zone.node, zone.zone], value)
        return [family for family in (*families.values(), *protections) if family.has_samples()]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=ZoneinfoCollector, enabled_by_default=False,
    help="Exposes NUMA memory zone metrics.",
    source="/proc/zoneinfo",
)
