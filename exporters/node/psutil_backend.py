"""The core node collectors on macOS and FreeBSD, from psutil, under node_exporter's names there.

node_exporter reads sysctl, getmntinfo and IOKit on those systems; psutil reads the same
kernel counters. Each collector here is a SPEC's ``portable`` factory, built in place of
the /proc one on such a system (``exporters.node.main.build_collector``) with that
collector's filter flags (mount-point/fs-type excludes, device include/exclude), and can be
built for any profile on any system, which is how it is tested on Linux against the /proc
collectors.

What psutil does not give is left out rather than invented: on macOS
``node_memory_{compressed,internal,purgeable}_bytes``, on FreeBSD
``node_memory_{laundry,user_wired}_bytes``, and the disk error/retry counters.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporters.core.collector import NoDataError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric, exact_counter
from exporters.node.collectors._flags import DeviceFilter
from exporters.node.context import PSUTIL_SYSTEMS, NodeContext


def _psutil() -> Any:
    """psutil, imported when a collector first needs it (Linux does not)."""
    import psutil

    return psutil


@dataclass(frozen=True)
class Profile:
    """How node_exporter names things on one operating system."""

    name: str
    cpu_modes: tuple[tuple[str, str], ...]
    """(psutil cpu_times field, node_cpu_seconds_total mode)."""
    memory: tuple[tuple[str, str, str], ...]
    """(metric suffix, psutil source 'virtual.<field>' or 'swap.<field>', help)."""
    mount_points_exclude: str
    fs_types_exclude: str


DARWIN = Profile(
    name="darwin",
    cpu_modes=(("user", "user"), ("nice", "nice"), ("system", "system"), ("idle", "idle")),
    # collector/meminfo_darwin.go
    memory=(
        ("active_bytes", "virtual.active", "Memory information field active_bytes."),
        ("inactive_bytes", "virtual.inactive", "Memory information field inactive_bytes."),
        ("wired_bytes", "virtual.wired", "Memory information field wired_bytes."),
        ("free_bytes", "virtual.free", "Memory information field free_bytes."),
        ("total_bytes", "virtual.total", "Memory information field total_bytes."),
        ("swapped_in_bytes_total", "swap.sin", "Memory information field swapped_in_bytes_total."),
        ("swapped_out_bytes_total", "swap.sout", "Memory information field swapped_out_bytes_total."),
        ("swap_used_bytes", "swap.used", "Memory information field swap_used_bytes."),
        ("swap_total_bytes", "swap.total", "Memory information field swap_total_bytes."),
    ),
    mount_points_exclude="^/(dev)($|/)",  # collector/filesystem_bsd.go
    fs_types_exclude="^devfs$",
)
FREEBSD = Profile(
    name="freebsd",
    cpu_modes=(("user", "user"), ("nice", "nice"), ("system", "system"), ("irq", "interrupt"), ("idle", "idle")),
    # collector/memory_bsd.go
    memory=(
        ("active_bytes", "virtual.active", "Recently used by userland"),
        ("inactive_bytes", "virtual.inactive", "Not recently used by userland"),
        ("wired_bytes", "virtual.wired", "Locked in memory by kernel, mlock, etc"),
        ("cache_bytes", "virtual.cached", "Almost free, backed by swap or files, available for re-allocation"),
        ("buffer_bytes", "virtual.buffers", "Disk IO Cache entries for non ZFS filesystems, only usable by kernel"),
        ("free_bytes", "virtual.free", "Unallocated, available for allocation"),
        ("size_bytes", "virtual.total", "Total physical memory size"),
        ("swap_size_bytes", "swap.total", "Total swap memory size"),
        ("swap_in_bytes_total", "swap.sin", "Bytes paged in from swap devices"),
        ("swap_out_bytes_total", "swap.sout", "Bytes paged out to swap devices"),
    ),
    mount_points_exclude="^/(dev)($|/)",  # collector/filesystem_freebsd.go
    fs_types_exclude="^devfs$",
)
PROFILES = {"darwin": DARWIN, "freebsd": FREEBSD}

# psutil net_io_counters field -> node_network_<key>_total (netdev_common.go legacy names).
NETDEV_FIELDS = (
    ("bytes_recv", "receive_bytes"),
    ("packets_recv", "receive_packets"),
    ("errin", "receive_errs"),
    ("dropin", "receive_drop"),
    ("bytes_sent", "transmit_bytes"),
    ("packets_sent", "transmit_packets"),
    ("errout", "transmit_errs"),
    ("dropout", "transmit_drop"),
)
# psutil disk_io_counters field -> (metric, help, scale); times are in milliseconds.
DISK_FIELDS = (
    ("read_count", "node_disk_reads_completed_total", "The total number of reads completed successfully.", 1.0),
    ("read_bytes", "node_disk_read_bytes_total", "The total number of bytes read successfully.", 1.0),
    ("read_time", "node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", 0.001),
    ("write_count", "node_disk_writes_completed_total", "The total number of writes completed successfully.", 1.0),
    ("write_bytes", "node_disk_written_bytes_total", "The total number of bytes written successfully.", 1.0),
    ("write_time", "node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.",
     0.001),
)


PROFILES = {profile.name: profile for profile in (DARWIN, FREEBSD)}


def current_profile(platform: str = sys.platform) -> Profile | None:
    """The profile for ``platform``, or None on Linux (where the /proc collectors run)."""
    for system in PSUTIL_SYSTEMS:
        if platform.startswith(system):
            return PROFILES[system]
    return None


def profile_of(context: NodeContext) -> Profile:
    """The profile of the context's system (a portable factory runs only where there is one)."""
    profile = current_profile(context.platform)
    if profile is None:
        raise ValueError(f"no psutil collectors for {context.platform!r}")
    return profile


def _field(source: Any, name: str) -> float | None:
    value = getattr(source, name, None)
    return None if value is None else float(value)


class PsutilCpuCollector:
    """node_cpu_seconds_total{cpu,mode} from psutil.cpu_times(percpu=True)."""

    def __init__(self, profile: Profile, cpu_times: Callable[[], list[Any]] | None = None) -> None:
        self.profile = profile
        self.cpu_times = cpu_times or (lambda: list(_psutil().cpu_times(percpu=True)))

    def collect(self) -> Iterable[Metric]:
        family = CounterFamily("node_cpu_seconds", "Seconds the CPUs spent in each mode.",
                                     labels=["cpu", "mode"])
        for cpu, times in enumerate(self.cpu_times()):
            for field, mode in self.profile.cpu_modes:
                value = _field(times, field)
                if value is not None:
                    family.add_metric([str(cpu), mode], value)
        yield family


class PsutilMeminfoCollector:
    """node_memory_* as named on the profile's OS."""

    def __init__(self, profile: Profile, virtual: Callable[[], Any] | None = None,
                 swap: Callable[[], Any] | None = None) -> None:
        self.profile = profile
        self.virtual = virtual or (lambda: _psutil().virtual_memory())
        self.swap = swap or (lambda: _psutil().swap_memory())

    def collect(self) -> Iterable[Metric]:
        sources = {"virtual": self.virtual(), "swap": self.swap()}
        for suffix, source, documentation in self.profile.memory:
            kind, field = source.split(".", 1)
            value = _field(sources[kind], field)
            if value is None:
                continue
            name = f"node_memory_{suffix}"
            if suffix.endswith("_total"):
                family = exact_counter(name, documentation)
                family.add_metric([], value)
                yield family
            else:
                yield GaugeFamily(name, documentation, value=value)


class PsutilLoadavgCollector:
    def __init__(self, loadavg: Callable[[], tuple[float, float, float]] = os.getloadavg) -> None:
        self.loadavg = loadavg

    def collect(self) -> Iterable[Metric]:
        one, five, fifteen = self.loadavg()
        yield GaugeFamily("node_load1", "1m load average.", value=one)
        yield GaugeFamily("node_load5", "5m load average.", value=five)
        yield GaugeFamily("node_load15", "15m load average.", value=fifteen)


class PsutilBoottimeCollector:
    def __init__(self, boot_time: Callable[[], float] | None = None) -> None:
        self.boot_time = boot_time or (lambda: float(_psutil().boot_time()))

    def collect(self) -> Iterable[Metric]:
        yield GaugeFamily("node_boot_time_seconds", "Unix time of last boot, including microseconds.",
                                value=self.boot_time())


def split_nodename(nodename: str) -> tuple[str, str]:
    """BSD uname: the nodename up to the first dot, and the rest as domain ("(none)" if none)."""
    host, _, domain = nodename.partition(".")
    return host, domain or "(none)"


class PsutilUnameCollector:
    def __init__(self, uname: Callable[[], os.uname_result] = os.uname) -> None:
        self.uname = uname

    def collect(self) -> Iterable[Metric]:
        u = self.uname()
        host, domain = split_nodename(u.nodename)
        family = GaugeFamily("node_uname_info",
                                   "Labeled system information as provided by the uname system call.",
                                   labels=["sysname", "release", "version", "machine", "nodename", "domainname"])
        family.add_metric([u.sysname, u.release, u.version, u.machine, host, domain], 1.0)
        yield family


class PsutilFilesystemCollector:
    """node_filesystem_* for psutil.disk_partitions(), with the profile's default excludes."""

    def __init__(self, profile: Profile, partitions: Callable[[], list[Any]] | None = None,
                 statvfs: Callable[[str], os.statvfs_result] = os.statvfs,
                 excludes: tuple[re.Pattern[str], re.Pattern[str]] | None = None) -> None:
        """``excludes``: (mount points, filesystem types) from the flags; the profile's defaults if None."""
        self.mount_points_exclude, self.fs_types_exclude = excludes or (
            re.compile(profile.mount_points_exclude), re.compile(profile.fs_types_exclude))
        self.partitions = partitions or (lambda: list(_psutil().disk_partitions(all=True)))
        self.statvfs = statvfs

    def collect(self) -> Iterable[Metric]:
        labels = ["device", "mountpoint", "fstype"]
        names = (
            ("size_bytes", "Filesystem size in bytes."),
            ("free_bytes", "Filesystem free space in bytes."),
            ("avail_bytes", "Filesystem space available to non-root users in bytes."),
            ("files", "Filesystem total file nodes."),
            ("files_free", "Filesystem total free file nodes."),
            ("readonly", "Filesystem read-only status."),
            ("device_error", "Whether an error occurred while getting statistics for the given device."),
        )
        families = {n: GaugeFamily(f"node_filesystem_{n}", h, labels=labels) for n, h in names}
        seen: set[tuple[str, str, str]] = set()
        for part in self.partitions():
            if self.mount_points_exclude.search(part.mountpoint) or self.fs_types_exclude.search(part.fstype):
                continue
            key = (part.device, part.mountpoint, part.fstype)
            if key in seen:
                continue
            seen.add(key)
            readonly = 1.0 if "ro" in str(part.opts).split(",") else 0.0
            try:
                st = self.statvfs(part.mountpoint)
            except OSError:
                families["device_error"].add_metric(list(key), 1.0)
                families["readonly"].add_metric(list(key), readonly)
                continue
            values = {
                "size_bytes": float(st.f_blocks) * st.f_frsize,
                "free_bytes": float(st.f_bfree) * st.f_frsize,
                "avail_bytes": float(st.f_bavail) * st.f_frsize,
                "files": float(st.f_files),
                "files_free": float(st.f_ffree),
                "readonly": readonly,
                "device_error": 0.0,
            }
            for name, value in values.items():
                families[name].add_metric(list(key), value)
        yield from families.values()


class PsutilDiskstatsCollector:
    def __init__(self, counters: Callable[[], Mapping[str, Any]] | None = None,
                 devices: DeviceFilter | None = None) -> None:
        self.counters = counters or (lambda: _psutil().disk_io_counters(perdisk=True) or {})
        self.devices = devices or DeviceFilter()

    def collect(self) -> Iterable[Metric]:
        counters = {d: c for d, c in self.counters().items() if not self.devices.ignored(d)}
        if not counters:
            raise NoDataError("no disk I/O counters")
        for field, name, documentation, scale in DISK_FIELDS:
            family = CounterFamily(name.removesuffix("_total"), documentation, labels=["device"])
            for device, stats in sorted(counters.items()):
                value = _field(stats, field)
                if value is not None:
                    family.add_metric([device], value * scale)
            yield family


class PsutilNetdevCollector:
    def __init__(self, counters: Callable[[], Mapping[str, Any]] | None = None,
                 devices: DeviceFilter | None = None) -> None:
        self.counters = counters or (lambda: _psutil().net_io_counters(pernic=True))
        self.devices = devices or DeviceFilter()

    def collect(self) -> Iterable[Metric]:
        counters = {d: c for d, c in self.counters().items() if not self.devices.ignored(d)}
        for field, key in NETDEV_FIELDS:
            family = CounterFamily(f"node_network_{key}", f"Network device statistic {key}.",
                                         labels=["device"])
            for device, stats in sorted(counters.items()):
                value = _field(stats, field)
                if value is not None:
                    family.add_metric([device], value)
            yield family
