"""xfs: per-filesystem XFS runtime statistics from ``/sys/fs/xfs/<device>/stats/stats``.

The format is that of /proc/fs/xfs/stat (https://xfs.org/index.php/Runtime_Stats): one
line per category, a label and its counters. The per-device files exist from Linux 4.4.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, Metric
from exporters.node.collectors._files import glob_sorted, read_text
from exporters.node.collectors._strconv import parse_uints
from exporters.node.context import NodeContext

NAME = "xfs"

# Category line -> accepted numbers of counters. Every category is checked, as the Go
# procfs parser does, so a truncated file is an error rather than silently partial.
LINE_LENGTHS: dict[str, tuple[int, ...]] = {
    "extent_alloc": (4,), "abt": (4,), "blk_map": (7,), "bmbt": (4,), "dir": (4,), "trans": (3,), "ig": (7,),
    "log": (5,), "push_ail": (10,), "xstrat": (2,), "rw": (2,), "attr": (4,), "icluster": (3,),
    "vnodes": (7, 8), "buf": (9,), "xpc": (3,), "abtb2": (15,), "abtc2": (15,), "bmbt2": (15,), "ibt2": (15,),
    "qm": (8, 9), "debug": (1,),
}

# (metric, category line, index of the counter on it, help)
METRICS: tuple[tuple[str, str, int, str], ...] = (
    ("extent_allocation_extents_allocated_total", "extent_alloc", 0,
     "Number of extents allocated for a filesystem."),
    ("extent_allocation_blocks_allocated_total", "extent_alloc", 1,
     "Number of blocks allocated for a filesystem."),
    ("extent_allocation_extents_freed_total", "extent_alloc", 2,
     "Number of extents freed for a filesystem."),
    ("extent_allocation_blocks_freed_total", "extent_alloc", 3,
     "Number of blocks freed for a filesystem."),
    ("allocation_btree_lookups_total", "abt", 0,
     "Number of allocation B-tree lookups for a filesystem."),
    ("allocation_btree_compares_total", "abt", 1,
     "Number of allocation B-tree compares for a filesystem."),
    ("allocation_btree_records_inserted_total", "abt", 2,
     "Number of allocation B-tree records inserted for a filesystem."),
    ("allocation_btree_records_deleted_total", "abt", 3,
     "Number of allocation B-tree records deleted for a filesystem."),
    ("block_mapping_reads_total", "blk_map", 0,
     "Number of block map for read operations for a filesystem."),
    ("block_mapping_writes_total", "blk_map", 1,
     "Number of block map for write operations for a filesystem."),
    ("block_mapping_unmaps_total", "blk_map", 2,
     "Number of block unmaps (deletes) for a filesystem."),
    ("block_mapping_extent_list_insertions_total", "blk_map", 3,
     "Number of extent list insertions for a filesystem."),
    ("block_mapping_extent_list_deletions_total", "blk_map", 4,
     "Number of extent list deletions for a filesystem."),
    ("block_mapping_extent_list_lookups_total", "blk_map", 5,
     "Number of extent list lookups for a filesystem."),
    ("block_mapping_extent_list_compares_total", "blk_map", 6,
     "Number of extent list compares for a filesystem."),
    ("block_map_btree_lookups_total", "bmbt", 0,
     "Number of block map B-tree lookups for a filesystem."),
    ("block_map_btree_compares_total", "bmbt", 1,
     "Number of block map B-tree compares for a filesystem."),
    ("block_map_btree_records_inserted_total", "bmbt", 2,
     "Number of block map B-tree records inserted for a filesystem."),
    ("block_map_btree_records_deleted_total", "bmbt", 3,
     "Number of block map B-tree records deleted for a filesystem."),
    ("directory_operation_lookup_total", "dir", 0,
     "Number of file name directory lookups which miss the operating systems directory name lookup cache."),
    ("directory_operation_create_total", "dir", 1,
     "Number of times a new directory entry was created for a filesystem."),
    ("directory_operation_remove_total", "dir", 2,
     "Number of times an existing directory entry was created for a filesystem."),
    ("directory_operation_getdents_total", "dir", 3,
     "Number of times the directory getdents operation was performed for a filesystem."),
    ("inode_operation_attempts_total", "ig", 0,
     "Number of times the OS looked for an XFS inode in the inode cache."),
    ("inode_operation_found_total", "ig", 1,
     "Number of times the OS looked for and found an XFS inode in the inode cache."),
    ("inode_operation_recycled_total", "ig", 2,
     "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled."),
    ("inode_operation_missed_total", "ig", 3,
     "Number of times the OS looked for an XFS inode in the cache, but did not find it."),
    ("inode_operation_duplicates_total", "ig", 4,
     "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already "
     "been added by another process."),
    ("inode_operation_reclaims_total", "ig", 5,
     "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose."),
    ("inode_operation_attribute_changes_total", "ig", 6,
     "Number of times the OS explicitly changed the attributes of an XFS inode."),
    ("read_calls_total", "rw", 1,
     "Number of read(2) system calls made to files in a filesystem."),
    ("write_calls_total", "rw", 0,
     "Number of write(2) system calls made to files in a filesystem."),
    ("vnode_active_total", "vnodes", 0,
     "Number of vnodes not on free lists for a filesystem."),
    ("vnode_allocate_total", "vnodes", 1,
     "Number of times vn_alloc called for a filesystem."),
    ("vnode_get_total", "vnodes", 2,
     "Number of times vn_get called for a filesystem."),
    ("vnode_hold_total", "vnodes", 3,
     "Number of times vn_hold called for a filesystem."),
    ("vnode_release_total", "vnodes", 4,
     "Number of times vn_rele called for a filesystem."),
    ("vnode_reclaim_total", "vnodes", 5,
     "Number of times vn_reclaim called for a filesystem."),
    ("vnode_remove_total", "vnodes", 6,
     "Number of times vn_remove called for a filesystem."),
)


def parse_xfs_stats(text: str) -> dict[str, list[int]]:
    """Category -> counters. ``xpc`` holds 64-bit counters, every other line 32-bit ones."""
    stats: dict[str, list[int]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        label = fields[0]
        values = parse_uints(fields[1:], 64 if label == "xpc" else 32)
        lengths = LINE_LENGTHS.get(label)
        if lengths is not None and len(values) not in lengths:
            raise ValueError(f"incorrect number of values for XFS {label} stats: {len(values)}")
        stats[label] = values
    return stats


class XfsCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        devices = []
        for path in glob_sorted(self.context.sys("fs", "xfs", "*", "stats", "stats")):
            name = os.path.basename(os.path.dirname(os.path.dirname(path)))
            devices.append((name, parse_xfs_stats(read_text(path))))
        if not devices:
            return []  # the families would be empty, and an empty family is not written
        families = [CounterFamily("node_xfs_" + metric.removesuffix("_total"), doc, labels=["device"])
                    for metric, _, _, doc in METRICS]
        for name, stats in devices:
            for family, (_, line, index, _) in zip(families, METRICS, strict=True):
                values = stats.get(line, [])
                family.add_metric([name], float(values[index]) if index < len(values) else 0.0)
        return families


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=XfsCollector, enabled_by_default=True,
    help="Exposes xfs runtime statistics.",
    source="/sys/fs/xfs/<device>/stats/stats",
)
