"""diskstats: block device I/O statistics from ``/proc/diskstats`` plus udev properties.

Units follow node_exporter: sectors are the kernel's fixed 512-byte units
(Documentation/block/stat.rst), times are milliseconds turned into seconds by
multiplying with 0.001. Lines with fewer than 14 fields (pre-2.6.25 partitions) are
skipped; discard fields exist from Linux 4.18, flush fields from 5.5, and a metric is
only emitted when the kernel provides its field.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import read_text
from exporters.node.collectors._flags import DeviceFilter, device_filter, with_deprecated_alias
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

if TYPE_CHECKING:  # macOS and FreeBSD only: imported by build_portable
    from exporters.node.psutil_backend import PsutilDiskstatsCollector

LOGGER = logging.getLogger("exporters.node")

NAME = "diskstats"
DEFAULT_DEVICE_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"

SECONDS_PER_TICK = 0.001
SECTOR_SIZE = 512.0

# (metric suffix, help, type, factor) in /proc/diskstats field order after the name.
FIELDS: tuple[tuple[str, str, str, float], ...] = (
    ("reads_completed_total", "The total number of reads completed successfully.", "counter", 1.0),
    ("reads_merged_total", "The total number of reads merged.", "counter", 1.0),
    ("read_bytes_total", "The total number of bytes read successfully.", "counter", SECTOR_SIZE),
    ("read_time_seconds_total", "The total number of seconds spent by all reads.", "counter", SECONDS_PER_TICK),
    ("writes_completed_total", "The total number of writes completed successfully.", "counter", 1.0),
    ("writes_merged_total", "The number of writes merged.", "counter", 1.0),
    ("written_bytes_total", "The total number of bytes written successfully.", "counter", SECTOR_SIZE),
    ("write_time_seconds_total", "This is the total number of seconds spent by all writes.", "counter",
     SECONDS_PER_TICK),
    ("io_now", "The number of I/Os currently in progress.", "gauge", 1.0),
    ("io_time_seconds_total", "Total seconds spent doing I/Os.", "counter", SECONDS_PER_TICK),
    ("io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", "counter", SECONDS_PER_TICK),
    ("discards_completed_total", "The total number of discards completed successfully.", "counter", 1.0),
    ("discards_merged_total", "The total number of discards merged.", "counter", 1.0),
    # node_exporter exposes discarded sectors as a raw sector count (no x512).
    ("discarded_sectors_total", "The total number of sectors discarded successfully.", "counter", 1.0),
    ("discard_time_seconds_total", "This is the total number of seconds spent by all discards.", "counter",
     SECONDS_PER_TICK),
    ("flush_requests_total", "The total number of flush requests completed successfully", "counter", 1.0),
    ("flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests.",
     "counter", SECONDS_PER_TICK),
)

# udev property -> (metric suffix, help); emitted for ATA disks only.
ATA_PROPERTIES: tuple[tuple[str, str, str], ...] = (
    ("ID_ATA_WRITE_CACHE", "ata_write_cache", "ATA disk has a write cache."),
    ("ID_ATA_WRITE_CACHE_ENABLED", "ata_write_cache_enabled", "ATA disk has its write cache enabled."),
    ("ID_ATA_ROTATION_RATE_RPM", "ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs)."),
)

_UINT = re.compile(r"[0-9]+")  # fmt.Sscanf %d into an unsigned: no sign


class DiskStat(NamedTuple):
    """One /proc/diskstats line: the device and its (11, 15 or 17) counters."""

    major: int
    minor: int
    device: str
    values: tuple[int, ...]


def parse_diskstats(text: str) -> list[DiskStat]:
    """Parse /proc/diskstats; a non-numeric field is an error, a short line is skipped."""
    stats: list[DiskStat] = []
    for line in text.splitlines():
        fields = line.split()
        numbers: list[int] = []
        for i, field in enumerate(fields[:20]):
            if i == 2:
                continue
            limit = 1 << (32 if i < 2 else 64)  # major and minor are 32-bit
            if not _UINT.fullmatch(field) or int(field) >= limit:
                raise ValueError(f"diskstats: expected integer in field {i + 1} of {line.strip()!r}")
            numbers.append(int(field))
        if len(fields[:20]) < 14:
            continue
        stats.append(DiskStat(numbers[0], numbers[1], fields[2], tuple(numbers[2:])))
    return stats


def parse_udev_properties(text: str) -> dict[str, str]:
    """The ``E:KEY=value`` device properties of a udev database file (udevadm(8))."""
    info: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("E:"):
            continue
        key, sep, value = line[2:].partition("=")
        if sep:
            info[key] = value
    return info


class DiskstatsCollector:
    """``node_disk_*`` from /proc/diskstats and /run/udev/data/b<major>:<minor>."""

    def __init__(self, context: NodeContext, devices: DeviceFilter) -> None:
        self.context = context
        self.devices = devices
        if not os.path.isdir(context.udev_data):
            LOGGER.error(
                "Failed to open directory, disabling udev device properties",
                extra={"collector": NAME, "path": context.udev_data},
            )

    def read_udev(self, major: int, minor: int) -> dict[str, str]:
        try:
            return parse_udev_properties(read_text(self.context.udev(f"b{major}:{minor}")))
        except OSError as err:
            LOGGER.debug("Failed to parse udev info", extra={"collector": NAME, "err": str(err)})
            return {}

    def collect(self) -> Iterable[Metric]:
        stats = parse_diskstats(self.context.read_text(self.context.proc("diskstats")))
        info = GaugeFamily(
            "node_disk_info", "Info of /sys/block/<block_device>.",
            labels=["device", "major", "minor", "path", "wwn", "model", "serial", "revision"],
        )
        families: list[CounterFamily | GaugeFamily] = []
        for suffix, doc, typ, _ in FIELDS:
            if typ == "counter":
                families.append(CounterFamily("node_disk_" + suffix.removesuffix("_total"), doc,
                                                    labels=["device"]))
            else:
                families.append(GaugeFamily("node_disk_" + suffix, doc, labels=["device"]))
        fs_info = GaugeFamily(
            "node_disk_filesystem_info", "Info about disk filesystem.",
            labels=["device", "type", "usage", "uuid", "version"],
        )
        dm_info = GaugeFamily(
            "node_disk_device_mapper_info", "Info about disk device mapper.",
            labels=["device", "name", "uuid", "vg_name", "lv_name", "lv_layer"],
        )
        ata = {prop: GaugeFamily(f"node_disk_{suffix}", doc, labels=["device"])
               for prop, suffix, doc in ATA_PROPERTIES}

        for stat in stats:
            dev = stat.device
            if self.devices.ignored(dev):
                continue
            udev = self.read_udev(stat.major, stat.minor)
            # SCSI_IDENT_SERIAL is usually the serial printed on the disk label.
            serial = udev.get("SCSI_IDENT_SERIAL") or udev.get("ID_SERIAL_SHORT", "")
            info.add_metric(
                [dev, str(stat.major), str(stat.minor), udev.get("ID_PATH", ""), udev.get("ID_WWN", ""),
                 udev.get("ID_MODEL", ""), serial, udev.get("ID_REVISION", "")],
                1.0,
            )
            for family, (_, _, _, factor), value in zip(families, FIELDS, stat.values, strict=False):
                family.add_metric([dev], float(value) * factor if factor != 1.0 else float(value))
            fs_type = udev.get("ID_FS_TYPE", "")
            if fs_type:
                fs_info.add_metric(
                    [dev, fs_type, udev.get("ID_FS_USAGE", ""), udev.get("ID_FS_UUID", ""),
                     udev.get("ID_FS_VERSION", "")],
                    1.0,
                )
            dm_name = udev.get("DM_NAME", "")
            if dm_name:
                dm_info.add_metric(
                    [dev, dm_name, udev.get("DM_UUID", ""), udev.get("DM_VG_NAME", ""),
                     udev.get("DM_LV_NAME", ""), udev.get("DM_LV_LAYER", "")],
                    1.0,
                )
            if udev.get("ID_ATA", ""):
                for prop, family in ata.items():
                    if prop not in udev:
                        continue
                    try:
                        family.add_metric([dev], go_parse_float(udev[prop]))
                    except ValueError as err:
                        LOGGER.error("Failed to parse ATA value", extra={"collector": NAME, "err": str(err)})
        return [info, *families, fs_info, dm_info, *ata.values()]


@dataclass(frozen=True)
class DiskstatsOptions:
    """The diskstats collector's flags (``--collector.diskstats.*``)."""

    # None when not given: the default applies unless the deprecated spelling is used
    device_exclude: str | None = option(
        "--collector.diskstats.device-exclude", None,
        "Regexp of diskstats devices to exclude (mutually exclusive to device-include).")
    ignored_devices: str = option("--collector.diskstats.ignored-devices", "",
                                  "DEPRECATED: Use collector.diskstats.device-exclude", hidden=True)
    device_include: str = option("--collector.diskstats.device-include", "",
                                 "Regexp of diskstats devices to include (mutually exclusive to device-exclude).")


def device_filter_from_flags(context: NodeContext) -> DeviceFilter:
    """``--collector.diskstats.device-exclude/-include`` (and the deprecated ``ignored-devices``)."""
    options = context.options(DiskstatsOptions)
    exclude = with_deprecated_alias(
        options.device_exclude, options.ignored_devices,
        "--collector.diskstats.device-exclude", "--collector.diskstats.ignored-devices",
        DEFAULT_DEVICE_EXCLUDE, NAME,
    )
    return device_filter(exclude, options.device_include, "--collector.diskstats", announce=NAME)


def build(context: NodeContext) -> DiskstatsCollector:
    return DiskstatsCollector(context, device_filter_from_flags(context))


def build_portable(context: NodeContext) -> PsutilDiskstatsCollector:
    from exporters.node.psutil_backend import PsutilDiskstatsCollector

    return PsutilDiskstatsCollector(devices=device_filter_from_flags(context))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, portable=build_portable, enabled_by_default=True,
    help="Exposes disk I/O statistics.", options=DiskstatsOptions,
    source="/proc/diskstats",
    families=(
        FamilyDoc("node_disk_info", source="/proc/diskstats and the udev database (/run/udev/data/b<major>:<minor>)"),
        FamilyDoc("node_disk_filesystem_info", source="udev properties ID_FS_*"),
        FamilyDoc("node_disk_device_mapper_info", source="udev properties DM_*"),
        FamilyDoc("node_disk_ata_write_cache", source="udev property ID_ATA_WRITE_CACHE"),
        FamilyDoc("node_disk_ata_write_cache_enabled", source="udev property ID_ATA_WRITE_CACHE_ENABLED"),
        FamilyDoc("node_disk_ata_rotation_rate_rpm", source="udev property ID_ATA_ROTATION_RATE_RPM"),
    ),
)
