"""diskstats collector: /proc/diskstats and udev parsing, units, device filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.flags import ConfigError
from exporters.node.collectors import diskstats
from exporters.node.collectors.diskstats import DiskStat, parse_diskstats, parse_udev_properties
from tests.node.collected import names, samples, value
from tests.node.fake_host import context, write_tree

FULL = "   8       0 sda 10 2 30 4 50 6 70 8 1 100 110 12 13 14 15 16 17"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (FULL, [DiskStat(8, 0, "sda", (10, 2, 30, 4, 50, 6, 70, 8, 1, 100, 110, 12, 13, 14, 15, 16, 17))]),
        # 4.18 - 5.4: discard fields, no flush fields
        ("8 16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
         [DiskStat(8, 16, "sdb", (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))]),
        # before 4.18: eleven counters
        ("8 32 sdc 1 2 3 4 5 6 7 8 9 10 11", [DiskStat(8, 32, "sdc", (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11))]),
        # pre-2.6.25 partition lines have 4 counters: skipped
        ("8 1 sda1 1 2 3 4", []),
        ("", []),
        # more than 20 fields: the extra ones are ignored
        (FULL + " 99 98", [DiskStat(8, 0, "sda", (10, 2, 30, 4, 50, 6, 70, 8, 1, 100, 110, 12, 13, 14, 15, 16, 17))]),
    ],
)
def test_parse_diskstats(text: str, expect: list[DiskStat]) -> None:
    assert parse_diskstats(text) == expect


@pytest.mark.parametrize(
    "text",
    [
        "8 0 sda 1 2 x 4 5 6 7 8 9 10 11",
        "a 0 sda 1 2 3 4 5 6 7 8 9 10 11",
        "8 0 sda 1 2 3 4 5 6 7 8 9 10 -11",
        "8 0 sda 1 2 3 4 5 6 7 8 9 10 +11",
        "8 0 sda 1 2 3 4 5 6 7 8 9 10 18446744073709551616",
        "4294967296 0 sda 1 2 3 4 5 6 7 8 9 10 11",
    ],
)
def test_parse_diskstats_rejects_non_numbers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_diskstats(text)


def test_parse_udev_properties() -> None:
    text = "S:disk/by-id/x\nE:ID_MODEL=Disk\nE:ID_FS_LABEL=a=b\nE:NO_EQUALS\nE:EMPTY=\nI:123\n"
    assert parse_udev_properties(text) == {"ID_MODEL": "Disk", "ID_FS_LABEL": "a=b", "EMPTY": ""}


TREE = {
    "proc/diskstats": "\n".join([
        FULL,
        "   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
        "   7       0 loop0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
        " 253       0 dm-0 1 0 8 2 3 0 16 4 0 5 6",
        " 259       0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
    ]) + "\n",
    "udev/b8:0": "E:ID_ATA=1\nE:ID_MODEL=HDD\nE:ID_SERIAL_SHORT=SHORT\nE:SCSI_IDENT_SERIAL=LABEL\nE:ID_PATH=pci-1\n"
                 "E:ID_WWN=0x5000\nE:ID_REVISION=R1\nE:ID_ATA_WRITE_CACHE=1\nE:ID_ATA_ROTATION_RATE_RPM=bad\n",
    "udev/b253:0": "E:DM_NAME=vg-root\nE:DM_UUID=LVM-1\nE:DM_VG_NAME=vg\nE:DM_LV_NAME=root\nE:ID_FS_TYPE=ext4\n"
                   "E:ID_FS_UUID=u-1\nE:ID_ATA_WRITE_CACHE=1\n",
    "udev/b259:0": "E:ID_SERIAL_SHORT=NV1\n",
}


def test_collect_units_labels_and_udev(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    found = samples(diskstats.build(context(tmp_path)).collect())
    devices = {dict(labels)["device"] for _, labels in found}
    assert devices == {"sda", "dm-0", "nvme0n1"}  # sda1 and loop0 match the default exclude
    assert value(found, "node_disk_read_bytes_total", device="sda") == 30 * 512
    assert value(found, "node_disk_read_time_seconds_total", device="sda") == 4 * 0.001
    assert value(found, "node_disk_io_time_weighted_seconds_total", device="sda") == 110 * 0.001
    assert value(found, "node_disk_discarded_sectors_total", device="sda") == 14  # not scaled, as upstream
    assert value(found, "node_disk_flush_requests_time_seconds_total", device="sda") == 17 * 0.001
    assert value(found, "node_disk_io_now", device="sda") == 1
    # fields the kernel does not write are not emitted
    assert ("node_disk_discards_completed_total", (("device", "dm-0"),)) not in found
    assert ("node_disk_flush_requests_total", (("device", "nvme0n1"),)) not in found
    assert value(found, "node_disk_discard_time_seconds_total", device="nvme0n1") == 15 * 0.001
    # SCSI_IDENT_SERIAL wins over ID_SERIAL_SHORT
    assert value(found, "node_disk_info", device="sda", major="8", minor="0", path="pci-1", wwn="0x5000",
                 model="HDD", serial="LABEL", revision="R1") == 1
    assert value(found, "node_disk_info", device="nvme0n1", major="259", minor="0", path="", wwn="", model="",
                 serial="NV1", revision="") == 1
    assert value(found, "node_disk_device_mapper_info", device="dm-0", name="vg-root", uuid="LVM-1",
                 vg_name="vg", lv_name="root", lv_layer="") == 1
    assert value(found, "node_disk_filesystem_info", device="dm-0", type="ext4", usage="", uuid="u-1",
                 version="") == 1
    # ATA metrics only for ATA disks, and only values that parse
    assert value(found, "node_disk_ata_write_cache", device="sda") == 1
    assert ("node_disk_ata_write_cache", (("device", "dm-0"),)) not in found
    assert "node_disk_ata_rotation_rate_rpm" not in names(found)


def test_device_include_and_exclude_flags(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    found = samples(diskstats.build(context(
        tmp_path, "--collector.diskstats.device-exclude=", "--collector.diskstats.device-include=^(sda1|loop)"
    )).collect())
    assert {dict(labels)["device"] for _, labels in found} == {"sda1", "loop0"}
    found = samples(diskstats.build(context(tmp_path, "--collector.diskstats.device-exclude=d")).collect())
    # unanchored, as Go's MatchString: "d" excludes every name containing a d
    assert {dict(labels)["device"] for _, labels in found} == {"loop0", "nvme0n1"}
    found = samples(diskstats.build(context(tmp_path, "--collector.diskstats.ignored-devices=^loop")).collect())
    assert "loop0" not in {dict(labels)["device"] for _, labels in found}
    assert "sda1" in {dict(labels)["device"] for _, labels in found}


@pytest.mark.parametrize(
    "flags",
    [
        # upstream's default exclude is set, so include alone conflicts with it
        ("--collector.diskstats.device-include=sd",),
        ("--collector.diskstats.ignored-devices=x", "--collector.diskstats.device-exclude=y"),
    ],
)
def test_conflicting_flags_refuse_to_start(tmp_path: Path, flags: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match="mutually exclusive"):
        diskstats.build(context(tmp_path, *flags))


def test_bad_regex_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="device-exclude"):
        diskstats.build(context(tmp_path, "--collector.diskstats.device-exclude=(("))


def test_missing_diskstats_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    with pytest.raises(FileNotFoundError):
        list(diskstats.build(context(tmp_path)).collect())
