"""bcache collector: human-readable values, writeback/priority stats, the sysfs walk."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import bcache
from exporters.node.collectors.bcache import dehumanize, parse_priority_stats, parse_writeback_rate_debug
from tests.node.collected import names, samples, value
from tests.node.fake_host import make_context, write_tree


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("0", 0),
        ("542", 542),
        ("1.5", 1),  # a plain number is truncated
        ("2k", 2048),
        ("1.5k", int((1 + 5 / 10.24) * 1024)),  # bcache's fraction digits count 1/10.24ths
        ("3.5M", int((3 + 5 / 10.24) * 1024 * 1024)),
        ("1.2G", int((1 + 2 / 10.24) * 1024**3)),
        ("7Q", 0),  # unknown suffix multiplies by 0, as procfs does
    ],
)
def test_dehumanize(text: str, expect: int) -> None:
    assert dehumanize(text) == expect


@pytest.mark.parametrize("text", ["", "abcM", "1.xk", "--1"])
def test_dehumanize_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        dehumanize(text)


def test_parse_writeback_rate_debug() -> None:
    text = ("rate:\t\t1.1M/sec\ndirty:\t\t20.4M\ntarget:\t\t15.3M\nproportional:\t29.3k\nintegral:\t-5.1k\n"
            "change:\t\t-89.4k/sec\nnext io:\t-61ms\n")
    got = parse_writeback_rate_debug(text)
    assert got["rate"] == dehumanize("1.1M")
    assert got["target"] == dehumanize("15.3M")
    assert got["integral"] == -dehumanize("5.1k")
    assert got["change"] == -dehumanize("89.4k")


def test_parse_priority_stats() -> None:
    assert parse_priority_stats("Unused:\t\t99%\nClean:\t\t0%\nMetadata:\t3%\n") == {"Unused": 99, "Metadata": 3}
    with pytest.raises(ValueError):
        parse_priority_stats("Unused:\t\tmany%\n")


UUID = "sys/fs/bcache/deaddead-0000-1111-2222-333344445555"
TREE = {
    f"{UUID}/average_key_size": "1.0k\n",
    f"{UUID}/btree_cache_size": "2M\n",
    f"{UUID}/cache_available_percent": "98\n",
    f"{UUID}/internal/btree_read_average_duration_us": "1000\n",
    f"{UUID}/internal/cache_read_races": "4\n",
    f"{UUID}/bdev0/dirty_data": "1k\n",
    f"{UUID}/bdev0/writeback_rate_debug": "rate:\t\t4.0k/sec\ntarget:\t\t1M\n",
    f"{UUID}/bdev0/stats_total/cache_hits": "10\n",
    f"{UUID}/bdev0/stats_total/bypassed": "1M\n",
    f"{UUID}/bdev0/stats_total/cache_readaheads": "0\n",
    f"{UUID}/cache0/written": "3G\n",
    f"{UUID}/cache0/priority_stats": "Unused:\t\t50%\nMetadata:\t2%\n",
}


def test_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    found = samples(bcache.build(make_context(tmp_path)).collect())
    uuid = UUID.rsplit("/", 1)[1]
    assert value(found, "node_bcache_average_key_size_sectors", uuid=uuid) == 1024
    assert value(found, "node_bcache_tree_depth", uuid=uuid) == 0  # missing file reads as 0
    # the file holds microseconds; node_exporter scales by 1e-9
    assert value(found, "node_bcache_btree_read_average_duration_seconds", uuid=uuid) == 1000 * 1e-9
    assert value(found, "node_bcache_cache_read_races_total", uuid=uuid) == 4
    assert value(found, "node_bcache_dirty_target_bytes", uuid=uuid, backing_device="bdev0") == 1024 * 1024
    assert value(found, "node_bcache_bypassed_bytes_total", uuid=uuid, backing_device="bdev0") == 1024 * 1024
    assert value(found, "node_bcache_written_bytes_total", uuid=uuid, cache_device="cache0") == 3 * 1024**3
    assert "node_bcache_cache_readaheads_total" not in names(found)  # 0: omitted in v1.7.0
    assert "node_bcache_priority_stats_unused_percent" not in names(found)
    found = samples(bcache.build(make_context(tmp_path, "--collector.bcache.priorityStats")).collect())
    assert value(found, "node_bcache_priority_stats_unused_percent", uuid=uuid, cache_device="cache0") == 50
    assert value(found, "node_bcache_priority_stats_metadata_percent", uuid=uuid, cache_device="cache0") == 2


def test_missing_writeback_debug_is_an_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {k: v for k, v in TREE.items() if not k.endswith("writeback_rate_debug")})
    with pytest.raises(FileNotFoundError):
        list(bcache.build(make_context(tmp_path)).collect())


def test_no_bcache_is_empty(tmp_path: Path) -> None:
    assert samples(bcache.build(make_context(tmp_path)).collect()) == {}
