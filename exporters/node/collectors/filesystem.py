"""filesystem: size and free space of mounted filesystems (statfs(2) of each mount point).

Mount points come from ``<procfs>/1/mounts`` (``<procfs>/mounts`` when PID 1 is hidden
by ``hidepid``), as node_exporter reads them. The statfs calls run in worker threads
that outlive the scrape, at most ``--collector.filesystem.stat-workers`` at a time (one
unless a call is slow), and each call is given ``--collector.filesystem.mount-timeout``.
A mount that does not answer in time (a hung NFS server) is reported with
``node_filesystem_device_error 1`` and is not asked again until the call in flight
returns, so it holds one thread at most and a scrape that meets it waits no longer than
the mount timeout (node_exporter's first such scrape waits for ever: node_exporter
issue #3058).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from exporters.core.batch import Call, DaemonPool, StallingBatch
from exporters.core.collector import CollectorSpec
from exporters.core.flags import parse_duration
from exporters.core.metrics import GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import read_text
from exporters.node.collectors._flags import compile_go_regex, go_match, with_deprecated_alias
from exporters.node.context import NodeContext

if TYPE_CHECKING:  # macOS and FreeBSD only: imported by build_portable
    from exporters.node.psutil_backend import PsutilFilesystemCollector

LOGGER = logging.getLogger("exporters.node")

NAME = "filesystem"
DEFAULT_MOUNT_POINTS_EXCLUDE = (
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
DEFAULT_FS_TYPES_EXCLUDE = (
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs"
    r"|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$"
)
DEFAULT_MOUNT_TIMEOUT = 5.0
DEFAULT_STAT_WORKERS = 4
# How long the scrape lets one worker's statfs call run before another worker joins in.
STALL_SECONDS = 0.01
LABELS = ["device", "mountpoint", "fstype"]

# (metric, help), in the order of FilesystemStats.values
SPACE_METRICS: tuple[tuple[str, str], ...] = (
    ("node_filesystem_size_bytes", "Filesystem size in bytes."),
    ("node_filesystem_free_bytes", "Filesystem free space in bytes."),
    ("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes."),
    ("node_filesystem_files", "Filesystem total file nodes."),
    ("node_filesystem_files_free", "Filesystem total free file nodes."),
)


class StatvfsResult(Protocol):
    """The fields of ``os.statvfs_result`` the collector uses."""

    @property
    def f_bsize(self) -> int: ...
    @property
    def f_blocks(self) -> int: ...
    @property
    def f_bfree(self) -> int: ...
    @property
    def f_bavail(self) -> int: ...
    @property
    def f_files(self) -> int: ...
    @property
    def f_ffree(self) -> int: ...


StatFunc = Callable[[str], StatvfsResult]


class Mount(NamedTuple):
    device: str
    mount_point: str
    fs_type: str
    options: str

    @property
    def readonly(self) -> float:
        return 1.0 if "ro" in self.options.split(",") else 0.0


def rootfs_strip_prefix(path: str, rootfs: str) -> str:
    """A mount point as seen from the host: ``--path.rootfs`` removed from its front."""
    if rootfs == "/":
        return path
    stripped = path.removeprefix(rootfs)
    return stripped or "/"


def read_mounts(context: NodeContext, collector: str) -> list[Mount]:
    """PID 1's mount table (the host's, from a container), else this process's."""
    try:
        text = read_text(context.proc("1", "mounts"))
    except FileNotFoundError as err:
        LOGGER.debug(
            "Reading root mounts failed, falling back to system mounts",
            extra={"collector": collector, "err": str(err)},
        )
        text = read_text(context.proc("mounts"))
    return parse_mounts(text, context.rootfs)


def parse_mounts(text: str, rootfs: str = "/") -> list[Mount]:
    """Parse /proc/<pid>/mounts (fstab(5) format, ``\\040`` and ``\\011`` escapes)."""
    mounts: list[Mount] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            raise ValueError(f"malformed mount point information: {line!r}")
        mount_point = parts[1].replace("\\040", " ").replace("\\011", "\t")
        mounts.append(Mount(parts[0], rootfs_strip_prefix(mount_point, rootfs), parts[2], parts[3]))
    return mounts


class FilesystemStats(NamedTuple):
    mount: Mount
    values: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)
    readonly: float = 0.0
    device_error: float = 0.0


def stats_from_statvfs(mount: Mount, buf: StatvfsResult) -> FilesystemStats:
    # statfs(2)'s f_bsize times the block counts, as node_exporter computes it.
    bsize = float(buf.f_bsize)
    return FilesystemStats(
        mount,
        (float(buf.f_blocks) * bsize, float(buf.f_bfree) * bsize, float(buf.f_bavail) * bsize,
         float(buf.f_files), float(buf.f_ffree)),
        readonly=mount.readonly,
    )


class FilesystemCollector:
    """``node_filesystem_*`` for every mount point not excluded by mount point or type."""

    def __init__(
        self,
        context: NodeContext,
        mount_points_exclude: re.Pattern[str],
        fs_types_exclude: re.Pattern[str],
        mount_timeout: float = DEFAULT_MOUNT_TIMEOUT,
        stat_workers: int = DEFAULT_STAT_WORKERS,
        statfs: StatFunc = os.statvfs,
        stall: float = STALL_SECONDS,
    ) -> None:
        self.context = context
        self.mount_points_exclude = mount_points_exclude
        self.fs_types_exclude = fs_types_exclude
        self.mount_timeout = mount_timeout
        self.stat_workers = max(1, stat_workers)
        self.statfs = statfs
        self.stall = stall
        self._lock = threading.Lock()
        # mount point -> the mount (of the scrape) whose statfs timed out and has not returned yet
        self._stuck: dict[str, Mount] = {}
        # Worker threads outlive a scrape (starting a thread costs more than the statfs
        # calls of a whole scrape); one stuck in a hung mount is simply never idle again,
        # and as a daemon it does not hold up the exporter's exit.
        self._pool = DaemonPool("statfs", LOGGER)

    def read_mounts(self) -> list[Mount]:
        return read_mounts(self.context, NAME)

    def stat_path(self, mount: Mount) -> str:
        return os.path.normpath(os.path.join(self.context.rootfs, mount.mount_point.lstrip("/")))

    def _statfs(self, mount: Mount) -> StatvfsResult | OSError:
        try:
            result: StatvfsResult | OSError = self.statfs(self.stat_path(mount))
        except OSError as err:
            result = err
        with self._lock:
            if self._stuck.get(mount.mount_point) is mount:
                del self._stuck[mount.mount_point]
                LOGGER.debug(
                    "Mount point has recovered, monitoring will resume",
                    extra={"collector": NAME, "mountpoint": mount.mount_point},
                )
        return result

    def _timed_out(self, call: Call[Mount]) -> None:
        with self._lock:
            self._stuck[call.item.mount_point] = call.item
        LOGGER.debug(
            "Mount point timed out, it is being labeled as stuck and will not be monitored",
            extra={"collector": NAME, "mountpoint": call.item.mount_point},
        )

    def _finish(self, call: Call[Mount] | None, mount: Mount) -> FilesystemStats:
        if call is None or not call.done:
            return FilesystemStats(mount, device_error=1.0)  # timed out
        if call.error is not None or isinstance(call.result, OSError):
            LOGGER.debug(
                "Error on statfs() system call",
                extra={"collector": NAME, "rootfs": self.stat_path(mount), "err": str(call.error or call.result)},
            )
            return FilesystemStats(mount, readonly=mount.readonly, device_error=1.0)
        result: StatvfsResult = call.result  # type: ignore[assignment]
        return stats_from_statvfs(mount, result)

    def get_stats(self) -> list[FilesystemStats]:
        stats: list[FilesystemStats] = []
        to_stat: list[Mount] = []
        mounts = self.read_mounts()
        order = {id(mount): index for index, mount in enumerate(mounts)}
        for mount in mounts:
            if go_match(self.mount_points_exclude, mount.mount_point):
                LOGGER.debug("Ignoring mount point", extra={"collector": NAME, "mountpoint": mount.mount_point})
                continue
            if go_match(self.fs_types_exclude, mount.fs_type):
                LOGGER.debug("Ignoring fs", extra={"collector": NAME, "type": mount.fs_type})
                continue
            with self._lock:
                stuck = mount.mount_point in self._stuck
            if stuck:
                LOGGER.debug(
                    "Mount point is in an unresponsive state",
                    extra={"collector": NAME, "mountpoint": mount.mount_point},
                )
                stats.append(FilesystemStats(mount, device_error=1.0))
                continue
            to_stat.append(mount)
        if not to_stat:
            return stats

        # One worker takes the mounts in turn; while a call is slow, more join in (up to
        # --collector.filesystem.stat-workers), and a worker stuck past the mount timeout
        # is written off and replaced, so a hung mount costs only its own series.
        batch = StallingBatch(to_stat, self._statfs, self._pool, stall=min(self.stall, self.mount_timeout),
                              max_workers=self.stat_workers, item_timeout=self.mount_timeout,
                              on_timeout=self._timed_out)
        for call, mount in zip(batch.run(), to_stat, strict=True):
            stats.append(self._finish(call, mount))
        stats.sort(key=lambda s: order[id(s.mount)])  # mount table order, however the calls finished
        return stats

    def collect(self) -> Iterable[Metric]:
        device_error = GaugeFamily(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.", labels=LABELS,
        )
        readonly = GaugeFamily("node_filesystem_readonly", "Filesystem read-only status.", labels=LABELS)
        space = [GaugeFamily(name, doc, labels=LABELS) for name, doc in SPACE_METRICS]
        seen: set[tuple[str, str, str]] = set()
        for s in self.get_stats():
            labels = (s.mount.device, s.mount.mount_point, s.mount.fs_type)
            if labels in seen:
                continue
            seen.add(labels)
            device_error.add_metric(list(labels), s.device_error)
            readonly.add_metric(list(labels), s.readonly)
            if s.device_error > 0:
                continue
            for family, value in zip(space, s.values, strict=True):
                family.add_metric(list(labels), value)
        return [device_error, readonly, *space]


@dataclass(frozen=True)
class FilesystemOptions:
    """The filesystem collector's flags (``--collector.filesystem.*``)."""

    # the excludes are None when not given: the default applies unless a deprecated spelling is used
    mount_points_exclude: str | None = option("--collector.filesystem.mount-points-exclude", None,
                                              "Regexp of mount points to exclude for filesystem collector.")
    ignored_mount_points: str = option("--collector.filesystem.ignored-mount-points", "",
                                       "Regexp of mount points to ignore for filesystem collector.", hidden=True)
    fs_types_exclude: str | None = option("--collector.filesystem.fs-types-exclude", None,
                                          "Regexp of filesystem types to exclude for filesystem collector.")
    ignored_fs_types: str = option("--collector.filesystem.ignored-fs-types", "",
                                   "Regexp of filesystem types to ignore for filesystem collector.", hidden=True)
    mount_timeout: float = option("--collector.filesystem.mount-timeout", DEFAULT_MOUNT_TIMEOUT,
                                  "how long to wait for a mount to respond before marking it as stale",
                                  parse=parse_duration, hidden=True)
    stat_workers: int = option("--collector.filesystem.stat-workers", DEFAULT_STAT_WORKERS,
                               "how many stat calls to process simultaneously", hidden=True)


def exclude_patterns(
    context: NodeContext,
    mount_points_default: str = DEFAULT_MOUNT_POINTS_EXCLUDE,
    fs_types_default: str = DEFAULT_FS_TYPES_EXCLUDE,
) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The mount-point and filesystem-type excludes from the flags (defaults differ per OS)."""
    options = context.options(FilesystemOptions)
    mp_flag, fs_flag = "--collector.filesystem.mount-points-exclude", "--collector.filesystem.fs-types-exclude"
    mount_points = with_deprecated_alias(options.mount_points_exclude, options.ignored_mount_points, mp_flag,
                                         "--collector.filesystem.ignored-mount-points", mount_points_default, NAME)
    fs_types = with_deprecated_alias(options.fs_types_exclude, options.ignored_fs_types, fs_flag,
                                     "--collector.filesystem.ignored-fs-types", fs_types_default, NAME)
    LOGGER.info(f"Parsed flag {mp_flag}", extra={"collector": NAME, "flag": mount_points})
    LOGGER.info(f"Parsed flag {fs_flag}", extra={"collector": NAME, "flag": fs_types})
    return compile_go_regex(mount_points, mp_flag), compile_go_regex(fs_types, fs_flag)


def build(context: NodeContext, statfs: StatFunc = os.statvfs) -> FilesystemCollector:
    options = context.options(FilesystemOptions)
    return FilesystemCollector(context, *exclude_patterns(context), mount_timeout=options.mount_timeout,
                               stat_workers=options.stat_workers, statfs=statfs)


def build_portable(context: NodeContext) -> PsutilFilesystemCollector:
    from exporters.node.psutil_backend import PsutilFilesystemCollector, profile_of

    profile = profile_of(context)
    return PsutilFilesystemCollector(profile, excludes=exclude_patterns(context, profile.mount_points_exclude,
                                                                        profile.fs_types_exclude))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, portable=build_portable, enabled_by_default=True,
    help="Exposes filesystem statistics, such as disk space used.", options=FilesystemOptions,
    source="statfs(2) of each mount point of /proc/1/mounts",
)
