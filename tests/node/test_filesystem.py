"""filesystem collector: mount parsing, excludes, statfs errors and hung mounts."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from exporters.core.flags import ConfigError
from exporters.node.collectors import filesystem
from exporters.node.collectors.filesystem import FilesystemCollector, Mount, parse_mounts, rootfs_strip_prefix
from tests.node.collected import samples, value
from tests.node.fake_host import context, write_tree


@pytest.mark.parametrize(
    ("line", "rootfs", "expect"),
    [
        ("/dev/sda1 / ext4 rw,relatime 0 0", "/", Mount("/dev/sda1", "/", "ext4", "rw,relatime")),
        ("/dev/sdb /srv/media\\040library btrfs rw 0 0", "/", Mount("/dev/sdb", "/srv/media library", "btrfs", "rw")),
        ("/dev/sdc /mnt/a\\011b vfat ro 0 0", "/", Mount("/dev/sdc", "/mnt/a\tb", "vfat", "ro")),
        # the device keeps its escapes; only the mount point is decoded
        ("a\\040b /x tmpfs rw 0 0", "/", Mount("a\\040b", "/x", "tmpfs", "rw")),
        # four fields are enough (no dump/pass columns)
        ("srv:/export /mnt/nfs nfs4 rw", "/", Mount("srv:/export", "/mnt/nfs", "nfs4", "rw")),
        ("/dev/sda1 /rootfs/home ext4 rw 0 0", "/rootfs", Mount("/dev/sda1", "/home", "ext4", "rw")),
        ("/dev/sda1 /rootfs ext4 rw 0 0", "/rootfs", Mount("/dev/sda1", "/", "ext4", "rw")),
    ],
)
def test_parse_mounts(line: str, rootfs: str, expect: Mount) -> None:
    assert parse_mounts(line + "\n", rootfs) == [expect]


@pytest.mark.parametrize("text", ["/dev/sda1 / ext4\n", "garbage\n", "/dev/sda1 / ext4 rw 0 0\n\n"])
def test_parse_mounts_rejects_short_lines(text: str) -> None:
    with pytest.raises(ValueError, match="malformed mount point"):
        parse_mounts(text)


def test_rootfs_strip_prefix_only_when_rootfs_is_not_slash() -> None:
    assert rootfs_strip_prefix("/host/x", "/") == "/host/x"
    assert rootfs_strip_prefix("/host/x", "/host") == "/x"
    assert rootfs_strip_prefix("/other", "/host") == "/other"


def test_readonly_option_is_a_whole_word() -> None:
    assert Mount("d", "/", "ext4", "rw,errors=remount-ro").readonly == 0.0
    assert Mount("d", "/", "ext4", "ro,relatime").readonly == 1.0


def fake_statvfs(bsize: int = 4096, blocks: int = 1000, bfree: int = 400, bavail: int = 300,
                 files: int = 50, ffree: int = 20) -> SimpleNamespace:
    return SimpleNamespace(f_bsize=bsize, f_blocks=blocks, f_bfree=bfree, f_bavail=bavail, f_files=files,
                           f_ffree=ffree)


MOUNTS = """\
/dev/sda1 / ext4 rw,relatime 0 0
proc /proc proc rw 0 0
tmpfs /run/credentials/x.service tmpfs ro 0 0
/dev/sdb /data xfs ro,noatime 0 0
/dev/sdb /data xfs ro,noatime 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
srv:/export /mnt/nfs\\040share nfs4 rw 0 0
"""


def make(tmp_path: Path, statfs: Callable[[str], object], *flags: str,
         mounts: str = MOUNTS) -> FilesystemCollector:
    write_tree(tmp_path, {"proc/1/mounts": mounts})
    (tmp_path / "root").mkdir(exist_ok=True)
    return filesystem.build(context(tmp_path, *flags), statfs=statfs)  # type: ignore[arg-type]


def test_collect_values_excludes_errors_and_duplicates(tmp_path: Path) -> None:
    calls: list[str] = []

    def statfs(path: str) -> SimpleNamespace:
        calls.append(path)
        if path.endswith("nfs share"):
            raise OSError(116, "Stale file handle")
        return fake_statvfs()

    found = samples(make(tmp_path, statfs).collect())
    root = str(tmp_path / "root")
    # a mount listed twice is asked twice and reported once, as upstream does
    assert sorted(calls) == sorted([root, os.path.join(root, "data"), os.path.join(root, "data"),
                                    os.path.join(root, "mnt/nfs share")])
    labels = {"device": "/dev/sda1", "mountpoint": "/", "fstype": "ext4"}
    assert value(found, "node_filesystem_size_bytes", **labels) == 4096 * 1000
    assert value(found, "node_filesystem_free_bytes", **labels) == 4096 * 400
    assert value(found, "node_filesystem_avail_bytes", **labels) == 4096 * 300
    assert value(found, "node_filesystem_files", **labels) == 50
    assert value(found, "node_filesystem_files_free", **labels) == 20
    assert value(found, "node_filesystem_readonly", **labels) == 0
    assert value(found, "node_filesystem_readonly", device="/dev/sdb", mountpoint="/data", fstype="xfs") == 1
    nfs = {"device": "srv:/export", "mountpoint": "/mnt/nfs share", "fstype": "nfs4"}
    assert value(found, "node_filesystem_device_error", **nfs) == 1
    # v1.7.0 reports readonly for a failed mount too, and no sizes
    assert value(found, "node_filesystem_readonly", **nfs) == 0
    assert ("node_filesystem_size_bytes", tuple(sorted(nfs.items()))) not in found
    mountpoints = {dict(labels)["mountpoint"] for _, labels in found}
    assert mountpoints == {"/", "/data", "/mnt/nfs share"}


def test_flags_change_the_excludes(tmp_path: Path) -> None:
    collector = make(tmp_path, lambda p: fake_statvfs(),
                     "--collector.filesystem.mount-points-exclude=^/data$",
                     "--collector.filesystem.fs-types-exclude=^nfs4$")
    mountpoints = {dict(labels)["mountpoint"] for _, labels in samples(collector.collect())}
    assert mountpoints == {"/", "/proc", "/run/credentials/x.service", "/var/lib/docker/overlay2/abc/merged"}


def test_deprecated_flag_alias_and_conflict(tmp_path: Path) -> None:
    collector = make(tmp_path, lambda p: fake_statvfs(), "--collector.filesystem.ignored-mount-points=^/data")
    assert collector.mount_points_exclude.pattern == "^/data"
    with pytest.raises(ConfigError, match="mutually exclusive"):
        make(tmp_path, lambda p: fake_statvfs(), "--collector.filesystem.ignored-fs-types=x",
             "--collector.filesystem.fs-types-exclude=y")
    with pytest.raises(ConfigError, match="mount-points-exclude"):
        make(tmp_path, lambda p: fake_statvfs(), "--collector.filesystem.mount-points-exclude=(")


def test_falls_back_to_proc_mounts(tmp_path: Path) -> None:
    write_tree(tmp_path, {"proc/mounts": "/dev/vda / ext4 rw 0 0\n"})
    collector = filesystem.build(context(tmp_path), statfs=lambda p: fake_statvfs())
    assert value(samples(collector.collect()), "node_filesystem_device_error",
                 device="/dev/vda", mountpoint="/", fstype="ext4") == 0


def test_no_mounts_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    collector = filesystem.build(context(tmp_path), statfs=lambda p: fake_statvfs())
    with pytest.raises(FileNotFoundError):
        list(collector.collect())


@pytest.mark.timeout(20)
def test_hung_mount_is_marked_and_skipped_until_it_answers(tmp_path: Path) -> None:
    release = threading.Event()
    hung_calls = 0
    lock = threading.Lock()

    def statfs(path: str) -> SimpleNamespace:
        nonlocal hung_calls
        if path.endswith("nfs share"):
            with lock:
                hung_calls += 1
            release.wait(30)  # a hung NFS server: statfs(2) blocks in the kernel
        return fake_statvfs()

    collector = make(tmp_path, statfs, "--collector.filesystem.mount-timeout=300ms")
    nfs = {"device": "srv:/export", "mountpoint": "/mnt/nfs share", "fstype": "nfs4"}

    # The first scrape meeting the hung mount answers after the mount timeout, not never.
    start = time.monotonic()
    first = samples(collector.collect())
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 2.0, elapsed
    assert value(first, "node_filesystem_device_error", **nfs) == 1
    assert value(first, "node_filesystem_size_bytes", device="/dev/sda1", mountpoint="/", fstype="ext4") > 0

    # Later scrapes skip it at once, without another statfs call piling up.
    start = time.monotonic()
    second = samples(collector.collect())
    assert time.monotonic() - start < 0.25
    assert value(second, "node_filesystem_device_error", **nfs) == 1
    assert hung_calls == 1

    # Once the call returns the mount is asked again and reported normally.
    release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        third = samples(collector.collect())
        if value(third, "node_filesystem_device_error", **nfs) == 0:
            break
        time.sleep(0.02)
    assert value(third, "node_filesystem_device_error", **nfs) == 0
    assert value(third, "node_filesystem_size_bytes", **nfs) == 4096 * 1000
    assert hung_calls == 2


@pytest.mark.timeout(20)
def test_stat_workers_bound_concurrent_calls(tmp_path: Path) -> None:
    mounts = "".join(f"/dev/d{i} /m{i} ext4 rw 0 0\n" for i in range(8))
    active = 0
    peak = 0
    lock = threading.Lock()

    def statfs(path: str) -> SimpleNamespace:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return fake_statvfs()

    collector = make(tmp_path, statfs, "--collector.filesystem.stat-workers=2", mounts=mounts)
    found = samples(collector.collect())
    assert peak == 2
    assert sum(1 for name, _ in found if name == "node_filesystem_size_bytes") == 8


def test_real_statvfs_on_the_rootfs(tmp_path: Path) -> None:
    write_tree(tmp_path, {"proc/1/mounts": "rootdev / ext4 rw 0 0\n"})
    (tmp_path / "root").mkdir()
    collector = filesystem.build(context(tmp_path))
    found = samples(collector.collect())
    expected = os.statvfs(tmp_path / "root")
    assert value(found, "node_filesystem_size_bytes", device="rootdev", mountpoint="/", fstype="ext4") == float(
        expected.f_blocks) * expected.f_bsize


@pytest.mark.timeout(20)
def test_scrape_with_a_hung_mount_answers_within_the_deadline(tmp_path: Path) -> None:
    from exporters.core.runner import CollectorRunner

    release = threading.Event()

    def statfs(path: str) -> SimpleNamespace:
        if path.endswith("nfs share"):
            release.wait(30)
        return fake_statvfs()

    collector = make(tmp_path, statfs, "--collector.filesystem.mount-timeout=200ms")
    runner = CollectorRunner("node", {"filesystem": collector})
    try:
        start = time.monotonic()
        found = samples(runner.collect(deadline=start + 2.0))
        assert time.monotonic() - start < 1.0
        assert value(found, "node_scrape_collector_success", collector="filesystem") == 1
        assert value(found, "node_filesystem_device_error", device="srv:/export", mountpoint="/mnt/nfs share",
                     fstype="nfs4") == 1
    finally:
        release.set()
        runner.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


def test_fast_mounts_are_statted_in_turn_by_one_reused_worker(tmp_path: Path) -> None:
    calls: list[str] = []

    def statfs(path: str) -> SimpleNamespace:
        calls.append(path)
        return fake_statvfs()

    collector = make(tmp_path, statfs)
    collector.stall = 60.0  # no call stalls the batch this long: one worker is enough
    first = samples(collector.collect())
    for _ in range(4):
        wait_until(lambda: collector._pool.idle == 1)  # the worker counts itself idle after its batch
        assert samples(collector.collect()) == first
    per_scrape = len(calls) // 5
    assert per_scrape >= 3
    # no call stalled, so no second worker joined, and the worker outlived each scrape
    assert collector._pool.started == 1
    names = [name for name, _ in first]
    assert 0 < names.count("node_filesystem_size_bytes") <= per_scrape  # duplicates reported once
