"""btrfs: allocation and device statistics from ``/sys/fs/btrfs/<uuid>/``.

node_exporter additionally asks a mounted btrfs filesystem for per-device error counters
with the BTRFS_IOC_DEV_INFO / GET_DEV_STATS ioctls; this collector reports what sysfs
holds (``node_btrfs_device_size_bytes{device}`` without ``btrfs_dev_uuid``), which is
what node_exporter itself falls back to when the ioctls are not available (not root, or
the mount point not reachable through ``--path.rootfs``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporters.core.collector import CollectorSpec
from exporters.node.collectors._storage import glob_sorted, list_dir, sys_read_file
from exporters.node.context import NodeContext

NAME = "btrfs"
SECTOR_SIZE = 512
BLOCK_GROUP_TYPES = ("data", "metadata", "system")


@dataclass
class Layout:
    total_bytes: int
    used_bytes: int
    ratio: float


@dataclass
class Allocation:
    reserved_bytes: int = 0
    layouts: dict[str, Layout] = field(default_factory=dict)


@dataclass
class BtrfsStats:
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
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        stats = [read_btrfs_stats(p) for p in glob_sorted(self.context.sys("fs", "btrfs", "*-*"))]
        info = GaugeMetricFamily("node_btrfs_info", "Filesystem information", labels=["uuid", "label"])
        rsv = GaugeMetricFamily("node_btrfs_global_rsv_size_bytes", "Size of global reserve.", labels=["uuid"])
        reserved = GaugeMetricFamily("node_btrfs_reserved_bytes", "Amount of space reserved for a data type",
                                     labels=["uuid", "block_group_type"])
        layout_labels = ["uuid", "block_group_type", "mode"]
        used = GaugeMetricFamily("node_btrfs_used_bytes", "Amount of used space by a layout/data type",
                                 labels=layout_labels)
        size = GaugeMetricFamily("node_btrfs_size_bytes", "Amount of space allocated for a layout/data type",
                                 labels=layout_labels)
        ratio = GaugeMetricFamily("node_btrfs_allocation_ratio", "Data allocation ratio for a layout/data type",
                                  labels=layout_labels)
        device_size = GaugeMetricFamily("node_btrfs_device_size_bytes",
                                        "Size of a device that is part of the filesystem.", labels=["uuid", "device"])
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
            for device, dev_size in s.devices.items():
                device_size.add_metric([s.uuid, device], float(dev_size))
        return [info, rsv, reserved, used, size, ratio, device_size]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=BtrfsCollector, enabled_by_default=True,
    help="Exposes btrfs statistics",
)
