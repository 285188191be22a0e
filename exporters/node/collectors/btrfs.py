"""btrfs: allocation and device statistics from ``/sys/fs/btrfs/<uuid>/`` and ioctls.

For each btrfs filesystem mounted (``<procfs>/1/mounts``, reached through
``--path.rootfs``) the per-device sizes and error counters come from the
BTRFS_IOC_FS_INFO, BTRFS_IOC_DEV_INFO and BTRFS_IOC_GET_DEV_STATS ioctls
(include/uapi/linux/btrfs.h), as node_exporter gets them; they need root. Where the
ioctls are not available, device sizes come from sysfs, without ``btrfs_dev_uuid``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._files import glob_sorted, list_dir, sys_read_file
from exporters.node.collectors._libc import libc
from exporters.node.collectors.filesystem import Mount, read_mounts
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "btrfs"
SECTOR_SIZE = 512
BLOCK_GROUP_TYPES = ("data", "metadata", "system")
ERROR_TYPES = ("write", "read", "flush", "corruption", "generation")

BTRFS_SUPER_MAGIC = 0x9123683E
FIRST_FREE_OBJECTID = 256  # the inode number of a subvolume's root directory
_IOC_WRITE, _IOC_READ = 1, 2
_IOCTL_MAGIC = 0x94
FS_INFO_SIZE = 1024
DEV_INFO_SIZE = 4096
DEV_STATS_SIZE = 1032  # 129 u64 fields: the padding was not shrunk when the flags field was added
DEV_PATH_OFFSET = DEV_INFO_SIZE - 1024


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (_IOCTL_MAGIC << 8) | nr


BTRFS_IOC_FS_INFO = _ioc(_IOC_READ, 31, FS_INFO_SIZE)
BTRFS_IOC_DEV_INFO = _ioc(_IOC_READ | _IOC_WRITE, 30, DEV_INFO_SIZE)
BTRFS_IOC_GET_DEV_STATS = _ioc(_IOC_READ | _IOC_WRITE, 52, DEV_STATS_SIZE)


class IoctlDevice(NamedTuple):
    """One device of a mounted filesystem, as the kernel reports it."""

    path: str
    uuid: str
    bytes_used: int
    total_bytes: int
    errors: tuple[int, ...]  # in ERROR_TYPES order


class IoctlOps(Protocol):
    """The system calls the ioctl side needs; tests replace them."""

    def open_subvolume(self, path: str) -> int | None:
        """An O_RDONLY descriptor of ``path`` when it is a btrfs subvolume root, else None."""
        ...

    def ioctl(self, fd: int, request: int, buf: bytearray) -> None: ...

    def close(self, fd: int) -> None: ...


class _Statfs(ctypes.Structure):
    # struct statfs starts with f_type (a long on every Linux ABI); the rest is padding here
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 256)]


class SystemIoctl:
    """The real system calls."""

    def __init__(self) -> None:
        self._libc = libc()

    def fs_type(self, path: str) -> int:
        buf = _Statfs()
        if self._libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
        return int(buf.f_type) & 0xFFFFFFFF

    def open_subvolume(self, path: str) -> int | None:
        st = os.stat(path)
        if st.st_ino != FIRST_FREE_OBJECTID or not stat.S_ISDIR(st.st_mode):
            return None
        if self.fs_type(path) != BTRFS_SUPER_MAGIC:
            return None
        return os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))

    def ioctl(self, fd: int, request: int, buf: bytearray) -> None:
        fcntl.ioctl(fd, request, buf, True)

    def close(self, fd: int) -> None:
        os.close(fd)


def format_uuid(raw: bytes) -> str:
    h = raw.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def fs_info(ops: IoctlOps, fd: int) -> tuple[int, int, str]:
    """(max device id, number of devices, fsid as 32 hex digits)."""
    buf = bytearray(FS_INFO_SIZE)
    ops.ioctl(fd, BTRFS_IOC_FS_INFO, buf)
    max_id, num_devices, fsid = struct.unpack_from("=QQ16s", buf)
    return max_id, num_devices, fsid.hex()


def device_info(ops: IoctlOps, fd: int, devid: int) -> IoctlDevice:
    info = bytearray(DEV_INFO_SIZE)
    struct.pack_into("=Q", info, 0, devid)
    ops.ioctl(fd, BTRFS_IOC_DEV_INFO, info)
    _, uuid, bytes_used, total_bytes = struct.unpack_from("=Q16sQQ", info)
    path = bytes(info[DEV_PATH_OFFSET:]).strip(b"\0").decode("utf-8", errors="replace")
    stats = bytearray(DEV_STATS_SIZE)
    struct.pack_into("=QQQ", stats, 0, devid, len(ERROR_TYPES), 0)  # devid, nr_items, flags
    ops.ioctl(fd, BTRFS_IOC_GET_DEV_STATS, stats)
    errors = struct.unpack_from(f"={len(ERROR_TYPES)}Q", stats, 24)
    return IoctlDevice(path, format_uuid(uuid), bytes_used, total_bytes, tuple(errors))


def filesystem_devices(ops: IoctlOps, fd: int) -> tuple[str, list[IoctlDevice]]:
    """The fsid and the devices of the filesystem open at ``fd``."""
    max_id, num_devices, fsid = fs_info(ops, fd)
    devices: list[IoctlDevice] = []
    for devid in range(max_id + 1):
        try:
            devices.append(device_info(ops, fd, devid))
        except OSError as err:
            # device ids are neither contiguous nor starting at 0
            if err.errno == errno.ENODEV:
                continue
            raise
        if len(devices) == num_devices:
            break
    return fsid, devices


def read_ioctl_stats(mounts: Iterable[Mount], rootfs: str, ops: IoctlOps) -> dict[str, list[IoctlDevice]]:
    """fsid -> devices, for every btrfs filesystem reachable through one of its mount points."""
    done: set[str] = set()
    found: dict[str, list[IoctlDevice]] = {}
    for mount in mounts:
        if mount.fs_type != "btrfs" or mount.device in done:
            continue
        path = os.path.join(rootfs, mount.mount_point.lstrip("/"))
        try:
            fd = ops.open_subvolume(path)
        except OSError as err:
            LOGGER.debug("Error inspecting btrfs mountpoint",
                         extra={"collector": NAME, "mountPoint": path, "err": str(err)})
            continue
        if fd is None:
            LOGGER.debug("Error inspecting btrfs mountpoint",
                         extra={"collector": NAME, "mountPoint": path, "err": "not a btrfs subvolume"})
            continue
        try:
            fsid, devices = filesystem_devices(ops, fd)
        except OSError as err:
            LOGGER.debug("Error querying btrfs device stats",
                         extra={"collector": NAME, "mountPoint": path, "err": str(err)})
            continue
        finally:
            ops.close(fd)
        if fsid in found:
            continue
        done.add(mount.device)
        found[fsid] = devices
    return found


class Layout(NamedTuple):
    total_bytes: int
    used_bytes: int
    ratio: float


@dataclass
class Allocation:
    """One block group type's (data, metadata, system) reserved bytes and layouts."""

    reserved_bytes: int = 0
    layouts: dict[str, Layout] = field(default_factory=dict)


class BtrfsStats(NamedTuple):
    uuid: str
    label: str
    global_rsv_size: int
    devices: dict[str, int]
    allocation: dict[str, Allocation]


class _Reader:
    """procfs' btrfs reader: a missing file reads as 0/"", other errors are remembered.

    Like procfs, reading a block group type's directory replaces the remembered error,
    so an earlier failure can be forgotten; the same values come out.
    """

    def __init__(self, path: str, dev_count: int = 0) -> None:
        self.path = path
        self.error: Exception | None = None
        self.dev_count = dev_count

    def read_file(self, name: str) -> str:
        try:
            return sys_read_file(os.path.join(self.path, name))
        except FileNotFoundError:
            return ""
        except OSError as err:
            self.error = err
            return ""

    def read_value(self, name: str) -> int:
        text = self.read_file(name)
        if self.error is not None:
            return 0
        try:
            value = int(text) if text.isdigit() else 0
        except ValueError:
            value = 0
        return value if value < 1 << 64 else 0

    def list_files(self, name: str) -> list[str]:
        try:
            return list_dir(os.path.join(self.path, name))
        except OSError as err:
            self.error = err
            return []

    def ratio(self, layout: str) -> float:
        n = float(self.dev_count)
        table = {"single": 1.0, "raid0": 1.0, "dup": 2.0, "raid1": 2.0, "raid10": 2.0}
        if layout in table:
            return table[layout]
        if layout == "raid5":
            return n / (n - 1) if n != 1 else float("inf")
        if layout == "raid6":
            return n / (n - 2) if n != 2 else float("inf")
        return 0.0

    def allocation(self, name: str) -> Allocation:
        sub = _Reader(os.path.join(self.path, name), self.dev_count)
        alloc = Allocation(reserved_bytes=sub.read_value("bytes_reserved"))
        try:
            entries = sorted(os.scandir(sub.path), key=lambda e: e.name)
        except OSError as err:
            sub.error = err
            entries = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                alloc.layouts[entry.name] = Layout(
                    total_bytes=sub.read_value(os.path.join(entry.name, "total_bytes")),
                    used_bytes=sub.read_value(os.path.join(entry.name, "used_bytes")),
                    ratio=sub.ratio(entry.name),
                )
        self.error = sub.error
        return alloc


def read_btrfs_stats(path: str) -> BtrfsStats:
    reader = _Reader(path)
    names = reader.list_files("devices")
    devices = {n: SECTOR_SIZE * reader.read_value(os.path.join("devices", n, "size")) for n in names}
    reader.dev_count = len(devices)
    label = reader.read_file("label")
    uuid = reader.read_file("metadata_uuid")
    reader.list_files("features")
    global_rsv = reader.read_value("allocation/global_rsv_size")
    allocation = {kind: reader.allocation(os.path.join("allocation", kind)) for kind in BLOCK_GROUP_TYPES}
    if reader.error is not None:
        raise reader.error
    return BtrfsStats(uuid or os.path.basename(path), label, global_rsv, devices, allocation)


class BtrfsCollector:
    def __init__(self, context: NodeContext, ops: IoctlOps | None = None) -> None:
        self.context = context
        self.ops: IoctlOps = ops if ops is not None else SystemIoctl()

    def read_mounts(self) -> list[Mount]:
        return read_mounts(self.context, NAME)

    def ioctl_stats(self) -> dict[str, list[IoctlDevice]]:
        try:
            return read_ioctl_stats(self.read_mounts(), self.context.rootfs, self.ops)
        except (OSError, ValueError) as err:
            LOGGER.debug("Error querying btrfs device stats with ioctl", extra={"collector": NAME, "err": str(err)})
            return {}

    def collect(self) -> Iterable[Metric]:
        stats = [read_btrfs_stats(p) for p in glob_sorted(self.context.sys("fs", "btrfs", "*-*"))]
        if not stats:
            return []  # the ioctl stats are only ever looked up by a filesystem of these
        by_fsid = self.ioctl_stats()
        info = GaugeFamily("node_btrfs_info", "Filesystem information", labels=["uuid", "label"])
        rsv = GaugeFamily("node_btrfs_global_rsv_size_bytes", "Size of global reserve.", labels=["uuid"])
        reserved = GaugeFamily("node_btrfs_reserved_bytes", "Amount of space reserved for a data type",
                                     labels=["uuid", "block_group_type"])
        layout_labels = ["uuid", "block_group_type", "mode"]
        used = GaugeFamily("node_btrfs_used_bytes", "Amount of used space by a layout/data type",
                                 labels=layout_labels)
        size = GaugeFamily("node_btrfs_size_bytes", "Amount of space allocated for a layout/data type",
                                 labels=layout_labels)
        ratio = GaugeFamily("node_btrfs_allocation_ratio", "Data allocation ratio for a layout/data type",
                                  labels=layout_labels)
        device_size = GaugeFamily("node_btrfs_device_size_bytes",
                                        "Size of a device that is part of the filesystem.", labels=["uuid", "device"])
        dev_labels = ["uuid", "device", "btrfs_dev_uuid"]
        ioctl_size = GaugeFamily("node_btrfs_device_size_bytes",
                                       "Size of a device that is part of the filesystem.", labels=dev_labels)
        unused = GaugeFamily("node_btrfs_device_unused_bytes",
                                   "Unused bytes unused on a device that is part of the filesystem.",
                                   labels=dev_labels)
        errors = CounterFamily("node_btrfs_device_errors", "Errors reported for the device",
                                     labels=["uuid", "type", "device", "btrfs_dev_uuid"])
        for s in stats:
            info.add_metric([s.uuid, s.label], 1.0)
            rsv.add_metric([s.uuid], float(s.global_rsv_size))
            for kind in BLOCK_GROUP_TYPES:
                alloc = s.allocation[kind]
                reserved.add_metric([s.uuid, kind], float(alloc.reserved_bytes))
                for mode, layout in alloc.layouts.items():
                    used.add_metric([s.uuid, kind, mode], float(layout.used_bytes))
                    size.add_metric([s.uuid, kind, mode], float(layout.total_bytes))
                    ratio.add_metric([s.uuid, kind, mode], layout.ratio)
            devices = by_fsid.get(s.uuid.replace("-", ""))
            if devices is None:
                for device, dev_size in s.devices.items():
                    device_size.add_metric([s.uuid, device], float(dev_size))
                continue
            for dev in devices:
                # /dev/sda -> sda, the same name the sysfs fallback uses
                labels = [s.uuid, os.path.basename(dev.path), dev.uuid]
                ioctl_size.add_metric(labels, float(dev.total_bytes))
                unused.add_metric(labels, float((dev.total_bytes - dev.bytes_used) % (1 << 64)))
                for kind, count in zip(ERROR_TYPES, dev.errors, strict=True):
                    errors.add_metric([s.uuid, kind, labels[1], dev.uuid], float(count))
        return [info, rsv, reserved, used, size, ratio, device_size, ioctl_size, unused, errors]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=BtrfsCollector, enabled_by_default=True,
    help="Exposes btrfs statistics",
    source="/sys/fs/btrfs/<uuid>/, and the BTRFS_IOC_FS_INFO, BTRFS_IOC_DEV_INFO and BTRFS_IOC_GET_DEV_STATS "
    "ioctls on each btrfs mount point of /proc/1/mounts",
)
