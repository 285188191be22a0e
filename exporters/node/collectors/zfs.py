"""zfs: OpenZFS kstats from ``/proc/spl/kstat/zfs`` (ARC, ZIL, dbuf, ... and per-pool I/O).

Metric names are node_exporter's: ``node_<subsystem>_<kstat name>`` with the kstat's
dotted sysctl name as help text, untyped, since the kstats mix counters and gauges.
Only 64-bit integer kstats (data types 3 and 4) are exported.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import ExactFamily, exact_untyped
from exporters.node.collectors._storage import LOGGER, glob_sorted, parse_uint, read_text
from exporters.node.context import NodeContext

NAME = "zfs"
KSTAT_DIR = ("spl", "kstat", "zfs")

# metric subsystem -> kstat file under /proc/spl/kstat/zfs
SUBSYSTEMS: tuple[tuple[str, str], ...] = (
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbufstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    ("zfs_vdev_cache", "vdev_cache_stats"),  # vdev_cache is deprecated
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),  # no known consumer of XUIO on Linux
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
)
POOL_STATES = ("online", "degraded", "faulted", "offline", "removed", "unavail", "suspended")
# kstat data types (libspl kstat.h): KSTAT_DATA_INT64, KSTAT_DATA_UINT64
INTEGER_TYPES = ("3", "4")

Sysctl = tuple[str, int]
"""A kstat's dotted name (``kstat.zfs.misc.arcstats.hits``) and value."""


def metric_name(sysctl: str) -> str:
    return sysctl.rsplit(".", 1)[-1].replace("-", "_")


def parse_kstat(text: str, kstat: str, types: tuple[str, ...] = INTEGER_TYPES) -> list[Sysctl]:
    """A ``name type data`` kstat file; the header line must be present."""
    out: list[Sysctl] = []
    started = False
    for line in text.splitlines():
        parts = line.split()
        if not started and parts == ["name", "type", "data"]:
            started = True
            continue
        if not started or len(parts) < 3:
            continue
        if parts[1] in types:
            key = f"kstat.zfs.misc.{kstat}.{parts[0]}"
            try:
                out.append((key, parse_uint(parts[2])))
            except ValueError:
                raise ValueError(f"could not parse expected integer value for {key!r}") from None
    if not started:
        raise ValueError(f"did not parse a single {kstat!r} metric")
    return out


def parse_pool_io(text: str, kstat: str) -> list[Sysctl]:
    """A pool's ``io`` kstat: a header row starting with ``nread`` and a row of values."""
    out: list[Sysctl] = []
    header: list[str] | None = None
    for line in text.splitlines():
        parts = line.split()
        if header is None:
            if len(parts) >= 12 and parts[0] == "nread":
                header = parts
            continue
        for i, field in enumerate(header):
            key = f"kstat.zfs.misc.{kstat}.{field}"
            if i >= len(parts):
                raise ValueError(f"missing value for {key!r}")
            try:
                out.append((key, parse_uint(parts[i])))
            except ValueError:
                raise ValueError(f"could not parse expected integer value for {key!r}") from None
    return out


def parse_objset(text: str) -> tuple[str, list[Sysctl]]:
    """A dataset's ``objset-0x..`` kstat: its name and its 64-bit unsigned counters."""
    dataset = ""
    out: list[Sysctl] = []
    started = False
    for line in text.splitlines():
        parts = line.split()
        if not started and parts == ["name", "type", "data"]:
            started = True
            continue
        if not started or len(parts) < 3:
            continue
        if parts[0] == "dataset_name":
            dataset = parts[2]
            continue
        if parts[1] == "4":
            key = f"kstat.zfs.misc.objset.{parts[0]}"
            try:
                out.append((key, parse_uint(parts[2])))
            except ValueError:
                raise ValueError(f"could not parse expected integer value for {key!r}") from None
    if not started:
        raise ValueError(f"did not parse a single objset metric of dataset {dataset!r}")
    return dataset, out


def parse_pool_state(text: str) -> str:
    return text.split("\n", 1)[0].lower()


class ZfsCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        base = self.context.proc(*KSTAT_DIR)
        if not os.path.exists(base):
            LOGGER.debug("ZFS / ZFS statistics are not available", extra={"collector": NAME})
            raise NoDataError("ZFS / ZFS statistics are not available")
        families: dict[str, ExactFamily] = {}

        def add(name: str, sysctl: str, labels: dict[str, str], value: int) -> None:
            family = families.get(name)
            if family is None:
                family = families[name] = exact_untyped(name, sysctl, list(labels))
            family.add_metric(list(labels.values()), float(value))

        for subsystem, kstat in SUBSYSTEMS:
            try:
                text = read_text(os.path.join(base, kstat))
            except OSError:
                # kstat files come and go with ZFS features and versions
                continue
            for sysctl, value in parse_kstat(text, kstat):
                add(f"node_{subsystem}_{metric_name(sysctl)}", sysctl, {}, value)

        self._pools(base, "io", lambda pool, text: [
            (f"node_zfs_zpool_{metric_name(s)}", s, {"zpool": pool}, v) for s, v in parse_pool_io(text, "io")], add)
        self._pools(base, "objset-*", self._objset_rows, add)

        state = GaugeMetricFamily("node_zfs_zpool_state", "kstat.zfs.misc.state", labels=["zpool", "state"])
        for path in glob_sorted(os.path.join(base, "*", "state")):
            pool = os.path.basename(os.path.dirname(path))
            current = parse_pool_state(read_text(path))
            for name in POOL_STATES:
                state.add_metric([pool, name], 1.0 if current == name else 0.0)
        return [*families.values(), state]

    @staticmethod
    def _objset_rows(pool: str, text: str) -> list[tuple[str, str, dict[str, str], int]]:
        dataset, sysctls = parse_objset(text)
        return [(f"node_zfs_zpool_dataset_{metric_name(s)}", s, {"zpool": pool, "dataset": dataset}, v)
                for s, v in sysctls]

    @staticmethod
    def _pools(
        base: str,
        pattern: str,
        rows: Callable[[str, str], list[tuple[str, str, dict[str, str], int]]],
        add: Callable[[str, str, dict[str, str], int], None],
    ) -> None:
        for path in glob_sorted(os.path.join(base, "*", pattern)):
            pool = os.path.basename(os.path.dirname(path))
            for name, sysctl, labels, value in rows(pool, read_text(path)):
                add(name, sysctl, labels, value)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=ZfsCollector, enabled_by_default=True,
    help="Exposes ZFS performance statistics.",
)
