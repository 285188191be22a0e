"""zfs: OpenZFS kstats from ``/proc/spl/kstat/zfs`` (ARC, ZIL, dbuf, ... and per-pool I/O).

Metric names are node_exporter's: ``node_<subsystem>_<kstat name>`` with the kstat's
dotted sysctl name as help text, untyped, since the kstats mix counters and gauges.
Only 64-bit integer kstats (data types 3 and 4) are exported.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from exporters.core.collector import CollectorSpec, FamilyDoc, NoDataError
from exporters.core.metrics import ExactFamily, GaugeFamily, Metric, exact_untyped
from exporters.node.collectors._files import glob_sorted, read_text
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

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


def iter_kstat(text: str, kstat: str, types: tuple[str, ...] = INTEGER_TYPES) -> Iterator[Sysctl]:
    """A ``name type data`` kstat file; the header line must be present.

    A generator, so that the values before a malformed line are still exported, as
    node_exporter sends each value as it parses it.
    """
    for parts in _kstat_rows(text, f"did not parse a single {kstat!r} metric"):
        if parts[1] in types:
            key = f"kstat.zfs.misc.{kstat}.{parts[0]}"
            yield key, _value(key, parts[2])


def _kstat_rows(text: str, no_header: str) -> Iterator[list[str]]:
    """The ``name type data`` rows after the header line; ValueError(no_header) without one."""
    started = False
    for line in text.splitlines():
        parts = line.split()
        if not started and parts == ["name", "type", "data"]:
            started = True
            continue
        if started and len(parts) >= 3:
            yield parts
    if not started:
        raise ValueError(no_header)


def _value(key: str, text: str) -> int:
    try:
        return go_parse_uint(text)
    except ValueError:
        raise ValueError(f"could not parse expected integer value for {key!r}") from None


def parse_kstat(text: str, kstat: str, types: tuple[str, ...] = INTEGER_TYPES) -> list[Sysctl]:
    return list(iter_kstat(text, kstat, types))


def iter_pool_io(text: str, kstat: str) -> Iterator[Sysctl]:
    """A pool's ``io`` kstat: a header row starting with ``nread`` and a row of values."""
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
            yield key, _value(key, parts[i])


def parse_pool_io(text: str, kstat: str) -> list[Sysctl]:
    return list(iter_pool_io(text, kstat))


def iter_objset(text: str) -> Iterator[tuple[str, str, int]]:
    """A dataset's ``objset-0x..`` kstat: (dataset name, sysctl, value) for each 64-bit unsigned counter."""
    dataset = ""
    for parts in _kstat_rows(text, "did not parse a single objset metric"):
        if parts[0] == "dataset_name":
            dataset = parts[2]
            continue
        if parts[1] == "4":
            key = f"kstat.zfs.misc.objset.{parts[0]}"
            yield dataset, key, _value(key, parts[2])


def parse_objset(text: str) -> tuple[str, list[Sysctl]]:
    """The dataset's name (the last one named) and its counters."""
    rows = list(iter_objset(text))
    name = ""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "dataset_name":
            name = parts[2]
    return name, [(key, value) for _, key, value in rows]


def parse_pool_state(text: str) -> str:
    return text.split("\n", 1)[0].lower()


def _sample(name: str, sysctl: str, labels: dict[str, str], value: int) -> ExactFamily:
    family = exact_untyped(name, sysctl, list(labels))
    family.add_metric(list(labels.values()), float(value))
    return family


class ZfsCollector:
    """Each value is yielded as soon as it is parsed (one-sample families, merged on exposition)."""

    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterator[Metric]:
        base = self.context.proc(*KSTAT_DIR)
        if not os.path.exists(base):
            LOGGER.debug("ZFS / ZFS statistics are not available", extra={"collector": NAME})
            raise NoDataError("ZFS / ZFS statistics are not available")
        for subsystem, kstat in SUBSYSTEMS:
            try:
                text = read_text(os.path.join(base, kstat))
            except OSError:
                # kstat files come and go with ZFS features and versions
                continue
            for sysctl, value in iter_kstat(text, kstat):
                yield _sample(f"node_{subsystem}_{metric_name(sysctl)}", sysctl, {}, value)
        for path in glob_sorted(os.path.join(base, "*", "io")):
            pool = os.path.basename(os.path.dirname(path))
            for sysctl, value in iter_pool_io(read_text(path), "io"):
                yield _sample(f"node_zfs_zpool_{metric_name(sysctl)}", sysctl, {"zpool": pool}, value)
        for path in glob_sorted(os.path.join(base, "*", "objset-*")):
            pool = os.path.basename(os.path.dirname(path))
            for dataset, sysctl, value in iter_objset(read_text(path)):
                yield _sample(f"node_zfs_zpool_dataset_{metric_name(sysctl)}", sysctl,
                              {"zpool": pool, "dataset": dataset}, value)
        state = GaugeFamily("node_zfs_zpool_state", "kstat.zfs.misc.state", labels=["zpool", "state"])
        for path in glob_sorted(os.path.join(base, "*", "state")):
            pool = os.path.basename(os.path.dirname(path))
            current = parse_pool_state(read_text(path))
            for name in POOL_STATES:
                state.add_metric([pool, name], 1.0 if current == name else 0.0)
        yield state


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=ZfsCollector, enabled_by_default=True,
    help="Exposes ZFS performance statistics.",
    source="/proc/spl/kstat/zfs/",
    families=(
        FamilyDoc("node_zfs_zpool_state", source="/proc/spl/kstat/zfs/<pool>/state"),
        FamilyDoc("node_zfs_zpool_dataset_<name>", source="/proc/spl/kstat/zfs/<pool>/objset-<id>"),
        FamilyDoc("node_zfs_zpool_<name>", source="/proc/spl/kstat/zfs/<pool>/io"),
        *(FamilyDoc(f"node_{subsystem}_<name>", "untyped", (), f"kstat.zfs.misc.{kstat}.<name>",
                    source=f"/proc/spl/kstat/zfs/{kstat}") for subsystem, kstat in SUBSYSTEMS),
    ),
)
