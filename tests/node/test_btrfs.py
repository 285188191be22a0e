"""btrfs collector: the sysfs reader, allocation ratios and labels."""

from __future__ import annotations

import errno
import struct
from pathlib import Path

import pytest

from exporters.node.collectors import btrfs
from exporters.node.collectors.btrfs import BtrfsCollector, read_btrfs_stats
from tests.node.collected import samples, value
from tests.node.fake_host import make_context, write_tree

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
    found = samples(BtrfsCollector(make_context(tmp_path)).collect())
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


class FakeIoctl:
    """A kernel with one filesystem: devices 1 and 3 (2 was removed)."""

    FSID = bytes.fromhex("0f0e0d0c111122223333444455556666")

    def __init__(self, subvolumes: set[str], failing: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.subvolumes = subvolumes
        self.failing = failing
        self.opened: list[str] = []
        self.closed = 0
        self.stats_requests: list[tuple[int, int]] = []

    def open_subvolume(self, path: str) -> int | None:
        self.opened.append(path)
        return 7 if path in self.subvolumes else None

    def ioctl(self, fd: int, request: int, buf: bytearray) -> None:
        assert fd == 7
        if request == btrfs.BTRFS_IOC_FS_INFO:
            struct.pack_into("=QQ16s", buf, 0, 3, 2, self.FSID)
            return
        devid = struct.unpack_from("=Q", buf)[0]
        if devid not in (1, 3):
            raise OSError(errno.ENODEV, "no such device")
        if devid in self.failing:
            raise OSError(errno.EIO, "I/O error")
        if request == btrfs.BTRFS_IOC_DEV_INFO:
            struct.pack_into("=Q16sQQ", buf, 0, devid, bytes(range(devid, devid + 16)), 100 * devid, 1000 * devid)
            path = f"/dev/sd{'abc'[devid - 1]}".encode()
            buf[btrfs.DEV_PATH_OFFSET:btrfs.DEV_PATH_OFFSET + len(path)] = path
        elif request == btrfs.BTRFS_IOC_GET_DEV_STATS:
            self.stats_requests.append(struct.unpack_from("=QQ", buf))
            struct.pack_into("=5Q", buf, 24, *(devid * 10 + i for i in range(5)))
        else:
            raise AssertionError(hex(request))

    def close(self, fd: int) -> None:
        self.closed += 1


def test_ioctl_request_numbers_match_the_kernel_headers() -> None:
    assert btrfs.BTRFS_IOC_FS_INFO == 0x8400941F
    assert btrfs.BTRFS_IOC_DEV_INFO == 0xD000941E
    assert btrfs.BTRFS_IOC_GET_DEV_STATS == 0xC4089434


def test_collect_with_ioctl_device_stats(tmp_path: Path) -> None:
    write_tree(tmp_path, tree("raid1", 2))
    write_tree(tmp_path, {"proc/1/mounts": (
        "/dev/sda /srv btrfs rw 0 0\n"
        "/dev/sda /srv/again btrfs rw 0 0\n"  # the same filesystem again: not asked twice
        "/dev/sdz /other ext4 rw 0 0\n"
    )})
    fake = FakeIoctl({str(tmp_path / "root" / "srv")})
    found = samples(BtrfsCollector(make_context(tmp_path), ops=fake).collect())
    assert fake.opened == [str(tmp_path / "root" / "srv")]
    assert fake.closed == 1
    assert fake.stats_requests == [(1, 5), (3, 5)]  # nr_items asks for all five counters
    uuid = FS.rsplit("/", 1)[1]
    dev1 = {"uuid": uuid, "device": "sda", "btrfs_dev_uuid": "01020304-0506-0708-090a-0b0c0d0e0f10"}
    assert value(found, "node_btrfs_device_size_bytes", **dev1) == 1000
    assert value(found, "node_btrfs_device_unused_bytes", **dev1) == 900
    assert value(found, "node_btrfs_device_errors_total", type="write", **dev1) == 10
    assert value(found, "node_btrfs_device_errors_total", type="generation", **dev1) == 14
    dev3 = {"uuid": uuid, "device": "sdc", "btrfs_dev_uuid": "03040506-0708-090a-0b0c-0d0e0f101112"}
    assert value(found, "node_btrfs_device_errors_total", type="corruption", **dev3) == 33
    # the sysfs sizes are not reported when the ioctls answered
    assert ("node_btrfs_device_size_bytes", (("device", "sda"), ("uuid", uuid))) not in found


def test_ioctl_failure_falls_back_to_sysfs(tmp_path: Path) -> None:
    write_tree(tmp_path, tree("raid1", 2))
    write_tree(tmp_path, {"proc/1/mounts": "/dev/sda /srv btrfs rw 0 0\n"})
    fake = FakeIoctl({str(tmp_path / "root" / "srv")}, failing={3})
    found = samples(BtrfsCollector(make_context(tmp_path), ops=fake).collect())
    uuid = FS.rsplit("/", 1)[1]
    assert value(found, "node_btrfs_device_size_bytes", uuid=uuid, device="sda") == 100 * 512
    assert "node_btrfs_device_errors_total" not in {name for name, _ in found}
    assert fake.closed == 1


def test_system_ioctl_ignores_a_directory_that_is_not_a_subvolume(tmp_path: Path) -> None:
    assert btrfs.SystemIoctl().open_subvolume(str(tmp_path)) is None
    with pytest.raises(FileNotFoundError):
        btrfs.SystemIoctl().open_subvolume(str(tmp_path / "missing"))
