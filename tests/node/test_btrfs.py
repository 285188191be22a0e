"""btrfs collector: the sysfs reader, allocation ratios and labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors.btrfs import BtrfsCollector, read_btrfs_stats
from tests.node.storage_helpers import context, samples, value, write_tree

FS = "sys/fs/btrfs/0f0e0d0c-1111-2222-3333-444455556666"


def tree(layout: str, devices: int, **extra: str) -> dict[str, str]:
    files = {f"{FS}/label": "vol\n", f"{FS}/features/raid56": "", f"{FS}/allocation/global_rsv_size": "1024\n"}
    for i in range(devices):
        files[f"{FS}/devices/sd{chr(97 + i)}/size"] = "100\n"
    for kind in ("data", "metadata", "system"):
        files[f"{FS}/allocation/{kind}/bytes_reserved"] = "8\n"
        files[f"{FS}/allocation/{kind}/{layout}/total_bytes"] = "4096\n"
        files[f"{FS}/allocation/{kind}/{layout}/used_bytes"] = "2048\n"
    files.update(extra)
    return files


@pytest.mark.parametrize(
    ("layout", "devices", "ratio"),
    [("single", 1, 1.0), ("raid0", 2, 1.0), ("dup", 1, 2.0), ("raid1", 2, 2.0), ("raid10", 4, 2.0),
     ("raid5", 3, 1.5), ("raid6", 4, 2.0), ("raid1c3", 3, 0.0)],
)
def test_allocation_ratio(tmp_path: Path, layout: str, devices: int, ratio: float) -> None:
    write_tree(tmp_path, tree(layout, devices))
    stats = read_btrfs_stats(str(tmp_path / FS))
    assert stats.allocation["data"].layouts[layout].ratio == ratio


def test_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, tree("raid1", 2, **{f"{FS}/metadata_uuid": "meta-uuid\n"}))
    found = samples(BtrfsCollector(context(tmp_path)).collect())
    assert value(found, "node_btrfs_info", uuid="meta-uuid", label="vol") == 1
    assert value(found, "node_btrfs_global_rsv_size_bytes", uuid="meta-uuid") == 1024
    assert value(found, "node_btrfs_reserved_bytes", uuid="meta-uuid", block_group_type="system") == 8
    assert value(found, "node_btrfs_used_bytes", uuid="meta-uuid", block_group_type="data", mode="raid1") == 2048
    assert value(found, "node_btrfs_size_bytes", uuid="meta-uuid", block_group_type="metadata", mode="raid1") == 4096
    # device sizes are 512-byte sectors in sysfs
    assert value(found, "node_btrfs_device_size_bytes", uuid="meta-uuid", device="sdb") == 100 * 512


def test_uuid_falls_back_to_the_directory_name(tmp_path: Path) -> None:
    write_tree(tmp_path, tree("single", 1))
    assert read_btrfs_stats(str(tmp_path / FS)).uuid == FS.rsplit("/", 1)[1]


def test_missing_devices_directory_is_forgotten_like_procfs(tmp_path: Path) -> None:
    # procfs remembers the error, then reading the block group types replaces it: the
    # filesystem is reported without devices, and values read in between are 0.
    files = {k: v for k, v in tree("single", 1).items() if "/devices/" not in k}
    write_tree(tmp_path, files)
    stats = read_btrfs_stats(str(tmp_path / FS))
    assert stats.devices == {}
    assert stats.label == "vol"
    assert stats.global_rsv_size == 0
    assert stats.allocation["data"].layouts["single"].total_bytes == 4096


def test_missing_allocation_type_is_an_error(tmp_path: Path) -> None:
    files = {k: v for k, v in tree("single", 1).items() if "/allocation/system/" not in k}
    write_tree(tmp_path, files)
    with pytest.raises(FileNotFoundError):
        read_btrfs_stats(str(tmp_path / FS))


def test_unparsable_value_reads_as_zero(tmp_path: Path) -> None:
    write_tree(tmp_path, tree("single", 1, **{f"{FS}/allocation/global_rsv_size": "lots\n"}))
    assert read_btrfs_stats(str(tmp_path / FS)).global_rsv_size == 0
