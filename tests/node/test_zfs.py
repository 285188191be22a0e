"""zfs collector: kstat, pool io, objset and state parsing; metric naming."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.core.exposition import render_text
from exporters.node.collectors.zfs import (
    ZfsCollector,
    metric_name,
    parse_kstat,
    parse_objset,
    parse_pool_io,
    parse_pool_state,
)
from tests.node.collected import names, samples, value
from tests.node.fake_host import make_context, write_tree

KSTAT = """\
13 1 0x01 4 1088 5 6
name                            type data
hits                            4    100
c_min                           4    18446744073709551615
memory_available_bytes          3    4096
arc_meta_limit_pct              1    75
pretty-name                     4    7
"""


def test_parse_kstat_keeps_64_bit_integers() -> None:
    assert parse_kstat(KSTAT, "arcstats") == [
        ("kstat.zfs.misc.arcstats.hits", 100),
        ("kstat.zfs.misc.arcstats.c_min", 2**64 - 1),
        ("kstat.zfs.misc.arcstats.memory_available_bytes", 4096),
        ("kstat.zfs.misc.arcstats.pretty-name", 7),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hits 4 100\n", "did not parse"),  # no header
        ("name type data\nhits 4 lots\n", "could not parse"),
        # a negative signed kstat fails the whole file, as in node_exporter v1.7.0
        ("name type data\nmemory_available_bytes 3 -5\n", "could not parse"),
    ],
)
def test_parse_kstat_malformed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_kstat(text, "arcstats")


def test_metric_name() -> None:
    assert metric_name("kstat.zfs.misc.fm.erpt-dropped") == "erpt_dropped"


IO = """\
60 3 0x00 1 80 1 2
nread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt
1 2 3 4 5 6 7 8 9 10 11 12
"""


def test_parse_pool_io() -> None:
    got = parse_pool_io(IO, "io")
    assert got[0] == ("kstat.zfs.misc.io.nread", 1)
    assert got[-1] == ("kstat.zfs.misc.io.rcnt", 12)
    assert parse_pool_io("no header here\n", "io") == []
    with pytest.raises(ValueError):
        parse_pool_io(IO.replace(" 12\n", "\n"), "io")


def test_parse_objset_and_state() -> None:
    text = "1 1 0x01\nname type data\ndataset_name 7 pool/my data\nwrites 4 5\nsigned 3 6\n"
    assert parse_objset(text) == ("pool/my", [("kstat.zfs.misc.objset.writes", 5)])
    with pytest.raises(ValueError):
        parse_objset("dataset_name 7 x\n")
    assert parse_pool_state("DEGRADED\n") == "degraded"


def test_collect(tmp_path: Path) -> None:
    base = "proc/spl/kstat/zfs"
    write_tree(tmp_path, {
        f"{base}/arcstats": KSTAT,
        f"{base}/fm": "0 1 0x01\nname type data\nerpt-dropped 4 2\n",
        f"{base}/tank/io": IO,
        f"{base}/tank/objset-0x1": "x\nname type data\ndataset_name 7 tank/a\nwrites 4 9\n",
        f"{base}/tank/state": "ONLINE\n",
    })
    metrics = list(ZfsCollector(make_context(tmp_path)).collect())
    found = samples(metrics)
    assert value(found, "node_zfs_arc_hits") == 100
    assert value(found, "node_zfs_arc_memory_available_bytes") == 4096
    assert "node_zfs_arc_arc_meta_limit_pct" not in names(found)
    assert value(found, "node_zfs_fm_erpt_dropped") == 2
    assert value(found, "node_zfs_zpool_nread", zpool="tank") == 1
    assert value(found, "node_zfs_zpool_dataset_writes", zpool="tank", dataset="tank/a") == 9
    assert value(found, "node_zfs_zpool_state", zpool="tank", state="online") == 1
    assert value(found, "node_zfs_zpool_state", zpool="tank", state="suspended") == 0
    text = render_text(metrics).decode()
    assert "# HELP node_zfs_arc_hits kstat.zfs.misc.arcstats.hits\n# TYPE node_zfs_arc_hits untyped\n" in text


def test_no_zfs_is_no_data(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    with pytest.raises(NoDataError):
        list(ZfsCollector(make_context(tmp_path)).collect())


def test_values_before_a_malformed_file_are_kept(tmp_path: Path) -> None:
    from exporters.core.runner import CollectorRunner

    base = "proc/spl/kstat/zfs"
    write_tree(tmp_path, {f"{base}/arcstats": KSTAT, f"{base}/tank/io": IO.replace(" 3 4 ", " 3 x ")})
    runner = CollectorRunner("node", {"zfs": ZfsCollector(make_context(tmp_path))}, parallel=False)
    try:
        found = samples(runner.collect(None))
    finally:
        runner.close()
    # as node_exporter: what was sent before the error stays, and the collector reports failure
    assert value(found, "node_scrape_collector_success", collector="zfs") == 0
    assert value(found, "node_zfs_arc_hits") == 100
    assert value(found, "node_zfs_zpool_nwritten", zpool="tank") == 2
    assert ("node_zfs_zpool_writes", (("zpool", "tank"),)) not in found
