"""buddyinfo, zoneinfo, meminfo_numa, slabinfo and ksmd: parser tables with malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import buddyinfo, ksmd, meminfo_numa, slabinfo, zoneinfo
from tests.node.collected import collect_partial, samples, types, value
from tests.node.fake_host import make_context, write

BUDDY = "Node 0, zone      DMA      1      0 \nNode 0, zone   Normal    395   2500 \n"


def test_parse_buddyinfo() -> None:
    zones = buddyinfo.parse_buddyinfo(BUDDY)
    assert zones == [buddyinfo.BuddyZone("0", "DMA", (1.0, 0.0)), buddyinfo.BuddyZone("0", "Normal", (395.0, 2500.0))]


@pytest.mark.parametrize(
    "text",
    [
        "Node 0, zone\n",  # too few fields
        BUDDY + "Node 1, zone Normal 1 2 3\n",  # bucket count differs
        "Node 0, zone DMA 1 x\n",
        "Node 0, zone DMA " + "1 " * 65 + "\n",  # more orders than any kernel
        BUDDY + "\n",  # a blank line is a line with no fields
    ],
)
def test_parse_buddyinfo_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        buddyinfo.parse_buddyinfo(text)


def test_buddyinfo_collect(tmp_path: Path) -> None:
    write(tmp_path, "proc/buddyinfo", BUDDY)
    got = samples(buddyinfo.BuddyinfoCollector(make_context(tmp_path)).collect())
    assert value(got, "node_buddyinfo_blocks", node="0", zone="Normal", size="1") == 2500
    assert len(got) == 4


ZONEINFO = """Node 0, zone      DMA
  per-node stats
      nr_inactive_anon 136014
      nr_dirtied   12
  pages free     3840
        min      7
        low      0x10
        high     bogus
        protection: (0, 3018, 6730)
      nr_free_pages 3840
      numa_hit     5
  pagesets
    cpu: 0
              count: 0
              high:  0
Node 0, zone    DMA32
  pages free     772850
        min      9
        min      nine
        protection: (0, x)
Node 1, zone   Normal
  pages free     1
        protection: (4, 5, 6, 7)
"""


def test_parse_zoneinfo() -> None:
    zones = zoneinfo.parse_zoneinfo(ZONEINFO)
    assert [(z.node, z.zone) for z in zones] == [("0", "DMA"), ("0", "DMA32"), ("1", "Normal")]
    dma, dma32, normal = zones
    # per-node stats count for the node's first zone; base prefixes as Go's ParseInt(s, 0, 64)
    assert dma.values == {"nr_inactive_anon": 136014, "nr_dirtied": 12, "min": 7, "low": 16, "nr_free_pages": 3840,
                          "numa_hit": 5}
    assert dma.protection == [0, 3018, 6730]
    # the last occurrence wins even when it is not a number; a bad protection list is ignored
    assert dma32.values == {} and dma32.protection == []
    assert normal.protection == [4, 5, 6, 7]


def test_zoneinfo_collect(tmp_path: Path) -> None:
    write(tmp_path, "proc/zoneinfo", ZONEINFO)
    metrics = list(zoneinfo.ZoneinfoCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    assert value(got, "node_zoneinfo_nr_dirtied_total", node="0", zone="DMA") == 12
    assert value(got, "node_zoneinfo_protection_3", node="1", zone="Normal") == 7
    assert types(metrics)["node_zoneinfo_numa_hit"] == "counter"
    assert types(metrics)["node_zoneinfo_min_pages"] == "gauge"
    assert "node_zoneinfo_high_pages" not in types(metrics)  # no zone had a valid value: no family


def test_zoneinfo_empty_file_has_no_series(tmp_path: Path) -> None:
    write(tmp_path, "proc/zoneinfo", "")
    assert samples(zoneinfo.ZoneinfoCollector(make_context(tmp_path)).collect()) == {}


NUMA_MEMINFO = "Node 1 MemTotal:  8 kB\nNode 1 Active(anon): 2 kB\n\nNode 1 HugePages_Total:     3\n"


def test_parse_meminfo_numa() -> None:
    values = meminfo_numa.parse_meminfo_numa(NUMA_MEMINFO)
    assert [(v.name, v.node, v.value) for v in values] == [
        ("MemTotal", "1", 8192.0), ("Active_anon", "1", 2048.0), ("HugePages_Total", "1", 3.0)]
    expect = [meminfo_numa.NumaValue("numa_hit_total", True, "3", 5.0)]
    assert meminfo_numa.parse_numastat("numa_hit 5\n\n", "3") == expect


@pytest.mark.parametrize("text", ["Node 1 MemTotal:\n", "Node 1 MemTotal: x kB\n", "Node 1 MemTotal: 8 MB\n",
                                  "Node 1 MemTotal: 8 kB extra\n"])
def test_parse_meminfo_numa_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        meminfo_numa.parse_meminfo_numa(text)


@pytest.mark.parametrize("text", ["numa_hit\n", "numa_hit 1 2\n", "numa_hit x\n"])
def test_parse_numastat_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        meminfo_numa.parse_numastat(text, "0")


def test_meminfo_numa_collect(tmp_path: Path) -> None:
    write(tmp_path, "sys/devices/system/node/node1/meminfo", NUMA_MEMINFO)
    write(tmp_path, "sys/devices/system/node/node1/numastat", "numa_hit 5\nother_node 2\n")
    write(tmp_path, "sys/devices/system/node/online", "1\n")
    metrics = list(meminfo_numa.MeminfoNumaCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    assert value(got, "node_memory_numa_Active_anon", node="1") == 2048
    assert value(got, "node_memory_numa_numa_hit_total", node="1") == 5
    assert types(metrics)["node_memory_numa_other_node"] == "counter"


def test_meminfo_numa_missing_numastat_fails(tmp_path: Path) -> None:
    write(tmp_path, "sys/devices/system/node/node0/meminfo", NUMA_MEMINFO)
    with pytest.raises(FileNotFoundError):
        list(meminfo_numa.MeminfoNumaCollector(make_context(tmp_path)).collect())


SLAB_HEAD = ("slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> "
             "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> "
             "<num_slabs> <sharedavail>\n")
SLAB = "dentry  251790 251811    192   21    1 : tunables    0    0    0 : slabdata  11991  11991      0\n"


def test_parse_slabinfo() -> None:
    assert slabinfo.parse_slabinfo(SLAB_HEAD + SLAB) == [slabinfo.Slab("dentry", 251790, 251811, 192, 21, 1)]


@pytest.mark.parametrize(
    "line",
    [
        SLAB.replace(" 192 ", " "),  # 15 fields
        SLAB.rstrip("\n") + " \n",  # a trailing blank makes a 17th, empty field
        " " + SLAB,  # so does a leading one
        SLAB.replace("192", "1.5"),
        SLAB.replace("slabdata  11991", "slabdata  x"),  # unused columns must be numbers too
    ],
)
def test_parse_slabinfo_malformed(line: str) -> None:
    with pytest.raises(ValueError):
        slabinfo.parse_slabinfo(SLAB_HEAD + line)


def test_slabinfo_collect(tmp_path: Path) -> None:
    write(tmp_path, "proc/slabinfo", SLAB_HEAD + SLAB)
    got = samples(slabinfo.SlabinfoCollector(make_context(tmp_path)).collect())
    assert value(got, "node_slabinfo_object_size_bytes", slab="dentry") == 192
    assert len(got) == 5


def test_ksmd(tmp_path: Path) -> None:
    for file in ksmd.FILES:
        write(tmp_path, f"sys/kernel/mm/ksm/{file}", "20\n")
    metrics = list(ksmd.KsmdCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    assert got[("node_ksmd_sleep_seconds", ())] == 0.02
    assert got[("node_ksmd_full_scans_total", ())] == 20
    assert types(metrics)["node_ksmd_full_scans"] == "counter"
    write(tmp_path, "sys/kernel/mm/ksm/run", "-1\n")
    partial, err = collect_partial(ksmd.KsmdCollector(make_context(tmp_path)))
    assert isinstance(err, ValueError) and len(partial) == 7  # the files before 'run' are served
