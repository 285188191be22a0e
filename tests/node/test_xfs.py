"""xfs collector: per-filesystem stats parsing and the metric table."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors.xfs import METRICS, XfsCollector, parse_xfs_stats
from tests.node.collected import samples, value
from tests.node.fake_host import make_context, write_tree

STATS = """\
extent_alloc 1 2 3 4
abt 5 6 7 8
blk_map 9 10 11 12 13 14 15
bmbt 16 17 18 19
dir 20 21 22 23
ig 24 25 26 27 28 29 30
rw 31 32
vnodes 33 34 35 36 37 38 39 40
xpc 4294967296 2 3
rmapbt 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
defer_relog 7
"""


def test_parse_known_and_unknown_lines() -> None:
    stats = parse_xfs_stats(STATS)
    assert stats["rw"] == [31, 32]
    assert stats["xpc"] == [4294967296, 2, 3]
    assert stats["defer_relog"] == [7]  # unknown categories are kept, not checked


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("extent_alloc 1 2 3\n", "extent_alloc"),
        ("vnodes 1 2 3 4 5 6\n", "vnodes"),
        ("qm 1 2 3 4 5 6 7\n", "qm"),
        ("abt 1 2 3 x\n", "invalid"),
        ("abt 1 2 3 4294967296\n", "out of range"),  # 32-bit counters except xpc
        ("rmapbt -1\n", "invalid"),
    ],
)
def test_parse_malformed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_xfs_stats(text)


def test_parse_accepts_optional_fields() -> None:
    assert parse_xfs_stats("vnodes 1 2 3 4 5 6 7\nqm 1 2 3 4 5 6 7 8 9\nlonely\n")["vnodes"] == [1, 2, 3, 4, 5, 6, 7]


def test_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, {"sys/fs/xfs/sda1/stats/stats": STATS, "sys/fs/xfs/stats/stats": "rw 1 1\n"})
    found = samples(XfsCollector(make_context(tmp_path)).collect())
    assert {dict(labels)["device"] for _, labels in found} == {"sda1"}
    assert len(found) == len(METRICS)
    # rw is "<writes> <reads>"
    assert value(found, "node_xfs_write_calls_total", device="sda1") == 31
    assert value(found, "node_xfs_read_calls_total", device="sda1") == 32
    assert value(found, "node_xfs_block_mapping_extent_list_compares_total", device="sda1") == 15
    assert value(found, "node_xfs_vnode_remove_total", device="sda1") == 39
    assert value(found, "node_xfs_inode_operation_attribute_changes_total", device="sda1") == 30
    # categories absent from the file read as 0
    write_tree(tmp_path, {"sys/fs/xfs/sda1/stats/stats": "rw 1 2\n"})
    got = samples(XfsCollector(make_context(tmp_path)).collect())
    assert value(got, "node_xfs_vnode_get_total", device="sda1") == 0


def test_no_xfs_is_empty(tmp_path: Path) -> None:
    assert samples(XfsCollector(make_context(tmp_path)).collect()) == {}
