"""mdadm collector: /proc/mdstat parsing (states, disks, sync progress) and malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors.mdadm import MdadmCollector, MDStat, parse_mdstat
from tests.node.collected import samples, value
from tests.node.fake_host import make_context, write_tree

HEADER = "Personalities : [raid1] [raid5]\n"
FOOTER = "\nunused devices: <none>\n"


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("md0 : active raid1 sdb1[1] sda1[0]\n      1048512 blocks super 1.2 [2/2] [UU]\n\n",
         MDStat("md0", "active", 2, 2, 0, 0, 1048512, 1048512)),
        # failed and spare members, a degraded array
        ("md1 : active raid5 sdd1[3](S) sdc1[2](F) sdb1[1] sda1[0]\n"
         "      2095104 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]\n\n",
         MDStat("md1", "active", 2, 3, 1, 1, 2095104, 2095104)),
        # recovery in progress, after a bitmap line
        ("md2 : active raid1 sdb2[2] sda2[0]\n      500000 blocks [2/1] [U_]\n"
         "      bitmap: 1/4 pages [4KB], 65536KB chunk\n"
         "      [==>..................]  recovery = 12.6% (63000/500000) finish=1.2min speed=5000K/sec\n\n",
         MDStat("md2", "recovering", 1, 2, 0, 0, 500000, 63000)),
        ("md3 : active raid1 sdb3[1] sda3[0]\n      4000 blocks [2/2] [UU]\n"
         "      [>....................]  check =  0.1% (4/4000) finish=9.9min speed=1K/sec\n\n",
         MDStat("md3", "checking", 2, 2, 0, 0, 4000, 4)),
        ("md4 : active raid1 sdb4[1] sda4[0]\n      4000 blocks [2/2] [UU]\n      resync=DELAYED\n\n",
         MDStat("md4", "resyncing", 2, 2, 0, 0, 4000, 0)),
        ("md5 : active (auto-read-only) raid1 sdb5[1] sda5[0]\n      4000 blocks [2/2] [UU]\n"
         "        resync=PENDING\n\n",
         MDStat("md5", "resyncing", 2, 2, 0, 0, 4000, 0)),
        # raid0 and linear count the members on the device line
        ("md6 : active raid0 sdb6[1] sda6[0] sdc6[2]\n      12000 blocks super 1.2 512k chunks\n\n",
         MDStat("md6", "active", 3, 3, 0, 0, 12000, 12000)),
        ("md7 : active linear sda7[0] sdb7[1]\n      8000 blocks super 1.2 0k rounding\n\n",
         MDStat("md7", "active", 2, 2, 0, 0, 8000, 8000)),
        ("md8 : inactive sdb8[1](S) sda8[0](S)\n      8000 blocks super 1.2\n\n",
         MDStat("md8", "inactive", 0, 0, 0, 2, 8000, 8000)),
    ],
)
def test_parse_mdstat(body: str, expect: MDStat) -> None:
    assert parse_mdstat(HEADER + body + FOOTER) == [expect]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("md0 : active\n", "3\\+ fields|too few lines"),
        ("md0 : active raid1 sda1[0]\n      1000 blocks\n", "too few lines"),
        ("md0 : active raid1 sda1[0]\n      lots blocks [1/1] [U]\n\n\n", "status line"),
        ("md0 : active raid1 sda1[0]\n      1000 blocks [1/1]\n\n\n", "substring"),
        ("md0 : active raid1 sda1[0] sdb1[1]\n      1000 blocks [2/1] [U_]\n"
         "      recovery = ?% (x/1000)\n\n", "sync line"),
        ("md0 : active raid1 sda1[0] sdb1[1]\n      1000 blocks [2/1] [U_]\n"
         "      recovery = 1.0% (10/1000) finish=soon speed=1K/sec\n\n", "sync line"),
    ],
)
def test_parse_mdstat_malformed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mdstat(text)


def test_parse_mdstat_without_arrays() -> None:
    assert parse_mdstat("Personalities : \nunused devices: <none>\n") == []


def test_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, {"proc/mdstat": HEADER + (
        "md2 : active raid1 sdb2[2] sda2[0](F)\n      500000 blocks [2/1] [U_]\n"
        "      [==>..................]  recovery = 12.6% (63000/500000) finish=1.2min speed=5000K/sec\n\n"
    ) + FOOTER})
    found = samples(MdadmCollector(make_context(tmp_path)).collect())
    assert value(found, "node_md_state", device="md2", state="recovering") == 1
    for state in ("active", "inactive", "resync", "check"):
        assert value(found, "node_md_state", device="md2", state=state) == 0
    assert value(found, "node_md_disks", device="md2", state="active") == 1
    assert value(found, "node_md_disks", device="md2", state="failed") == 1
    assert value(found, "node_md_disks", device="md2", state="spare") == 0
    assert value(found, "node_md_disks_required", device="md2") == 2
    assert value(found, "node_md_blocks", device="md2") == 500000
    assert value(found, "node_md_blocks_synced", device="md2") == 63000


def test_no_mdstat_is_no_data(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    with pytest.raises(NoDataError):
        list(MdadmCollector(make_context(tmp_path)).collect())
