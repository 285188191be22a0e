"""bcache: block-layer cache statistics from ``/sys/fs/bcache/<uuid>/``.

Values in sysfs are "human readable" (``1.5M``); they are turned back into numbers the
way the Go procfs library does (its fraction rule ``.5`` -> 5/10.24 included), so the
samples match node_exporter's. A missing file reads as 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import glob_sorted, read_text
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

NAME = "bcache"

_MULTIPLIERS = {"k": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60,
                "Z": 1 << 70, "Y": 1 << 80}

# (file in the cache set dir, metric, help, type, factor)
SET_METRICS: tuple[tuple[str, str, str, str, float], ...] = (
    ("average_key_size", "average_key_size_sectors", "Average data per key in the btree (sectors).", "gauge", 1.0),
    ("btree_cache_size", "btree_cache_size_bytes", "Amount of memory currently used by the btree cache.",
     "gauge", 1.0),
    ("cache_available_percent", "cache_available_percent",
     "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).",
     "gauge", 1.0),
    ("congested", "congested", "Congestion.", "gauge", 1.0),
    ("root_usage_percent", "root_usage_percent",
     "Percentage of the root btree node in use (tree depth increases if too high).", "gauge", 1.0),
    ("tree_depth", "tree_depth", "Depth of the btree.", "gauge", 1.0),
    ("internal/active_journal_entries", "active_journal_entries",
     "Number of journal entries that are newer than the index.", "gauge", 1.0),
    ("internal/btree_nodes", "btree_nodes", "Total nodes in the btree.", "gauge", 1.0),
    # The file holds microseconds; node_exporter scales it as nanoseconds (x 1e-9).
    ("internal/btree_read_average_duration_us", "btree_read_average_duration_seconds",
     "Average btree read duration.", "gauge", 1e-9),
    ("internal/cache_read_races", "cache_read_races_total",
     "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - "
     "i.e. where the pointer was stale after the read completed.", "counter", 1.0),
)

# stats_total/<file> of a backing device -> (metric, help)
PERIOD_METRICS: tuple[tuple[str, str, str], ...] = (
    ("bypassed", "bypassed_bytes_total", "Amount of IO (both reads and writes) that has bypassed the cache."),
    ("cache_hits", "cache_hits_total", "Hits counted per individual IO as bcache sees them."),
    ("cache_misses", "cache_misses_total", "Misses counted per individual IO as bcache sees them."),
    ("cache_bypass_hits", "cache_bypass_hits_total", "Hits for IO intended to skip the cache."),
    ("cache_bypass_misses", "cache_bypass_misses_total", "Misses for IO intended to skip the cache."),
    ("cache_miss_collisions", "cache_miss_collisions_total",
     "Instances where data insertion from cache miss raced with write (data already present)."),
)
READAHEADS = ("cache_readaheads", "cache_readaheads_total", "Count of times readahead occurred.")

# writeback_rate_debug field -> (metric, help)
WRITEBACK_METRICS: tuple[tuple[str, str, str], ...] = (
    ("target", "dirty_target_bytes", "Current dirty data target threshold for this backing device in bytes."),
    ("rate", "writeback_rate", "Current writeback rate for this backing device in bytes."),
    ("proportional", "writeback_rate_proportional_term",
     "Current result of proportional controller, part of writeback rate"),
    ("integral", "writeback_rate_integral_term", "Current result of integral controller, part of writeback rate"),
    ("change", "writeback_change", "Last writeback rate change step for this backing device."),
)

CACHE_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("io_errors", "io_errors", "Number of errors that have occurred, decayed by io_error_halflife.", "gauge"),
    ("metadata_written", "metadata_written_bytes_total",
     "Sum of all non data writes (btree writes and all other metadata).", "counter"),
    ("written", "written_bytes_total", "Sum of all data that has been written to the cache.", "counter"),
)
PRIORITY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("Unused", "priority_stats_unused_percent", "The percentage of the cache that doesn't contain any data."),
    ("Metadata", "priority_stats_metadata_percent", "Bcache's metadata overhead."),
)


def _pseudo_float(text: str) -> float:
    """``1.5`` as bcache prints it: the fraction digits count 1/10.24ths (procfs' rule)."""
    whole, _, frac = text.partition(".")
    value = go_parse_float(whole)
    if "." in text:
        return value + go_parse_float(frac) / 10.24
    return value


def dehumanize(text: str) -> int:
    """``12.5M`` -> bytes; a plain number as is (truncated to an integer)."""
    if not text:
        raise ValueError("zero-length value")
    last = text[-1]
    if ord(last) > ord("9"):
        value = _pseudo_float(text[:-1]) * _MULTIPLIERS.get(last, 0)
    else:
        value = go_parse_float(text)
    return int(value) if value == value and abs(value) != float("inf") else 0


def dehumanize_signed(text: str) -> int:
    if text.startswith("-"):
        return -dehumanize(text[1:])
    return dehumanize(text)


def parse_writeback_rate_debug(text: str) -> dict[str, int]:
    """``rate: 1.1M/sec`` ... lines of writeback_rate_debug."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, _ = line.partition(":")
        fields = line.split()
        if not sep or not fields:
            continue
        raw = fields[-1]
        if key == "rate":
            out["rate"] = dehumanize(raw.removesuffix("/sec"))
        elif key in ("dirty", "target"):
            out[key] = dehumanize(raw)
        elif key in ("proportional", "integral"):
            out[key] = dehumanize_signed(raw)
        elif key == "change":
            out["change"] = dehumanize_signed(raw.removesuffix("/sec"))
    return out


def parse_priority_stats(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        for key in ("Unused", "Metadata"):
            if line.startswith(key + ":"):
                raw = line.split()[-1].removesuffix("%")
                if not raw.isdigit():
                    raise ValueError(f"invalid priority_stats line {line!r}")
                out[key] = int(raw)
    return out


@dataclass
class _Reader:
    """Reads sysfs values; the first failure is remembered (a missing file is 0)."""

    error: Exception | None = None

    def value(self, path: str) -> int:
        if self.error is not None:
            return 0
        try:
            text = read_text(path)
        except FileNotFoundError:
            return 0
        except OSError as err:
            self.error = err
            return 0
        try:
            # one trailing byte (the newline) is dropped, as the kernel writes one
            return dehumanize(text[:-1])
        except ValueError as err:
            self.error = err
            return 0


@dataclass
class BcacheSet:
    """One cache set of /sys/fs/bcache/<uuid>/: its own counters, its backing and cache devices'."""

    uuid: str
    values: dict[str, int] = field(default_factory=dict)
    bdevs: dict[str, tuple[dict[str, int], dict[str, int]]] = field(default_factory=dict)
    caches: dict[str, tuple[dict[str, int], dict[str, int]]] = field(default_factory=dict)


def read_bcache_set(path: str, priority_stats: bool) -> BcacheSet:
    reader = _Reader()
    result = BcacheSet(os.path.basename(path))
    for file, *_ in SET_METRICS:
        result.values[file] = reader.value(os.path.join(path, file))
    if reader.error is not None:
        raise reader.error
    for bdev in glob_sorted(os.path.join(path, "bdev[0-9]*")):
        name = os.path.basename(bdev)
        values = {"dirty_data": reader.value(os.path.join(bdev, "dirty_data"))}
        for file, *_ in (*PERIOD_METRICS, READAHEADS):
            values[file] = reader.value(os.path.join(bdev, "stats_total", file))
        writeback: dict[str, int] = {}
        if reader.error is None:
            writeback = parse_writeback_rate_debug(read_text(os.path.join(bdev, "writeback_rate_debug")))
        result.bdevs[name] = (values, writeback)
    if reader.error is not None:
        raise reader.error
    for cache in glob_sorted(os.path.join(path, "cache[0-9]*")):
        name = os.path.basename(cache)
        values = {file: reader.value(os.path.join(cache, file)) for file, *_ in CACHE_METRICS}
        priority: dict[str, int] = {}
        if priority_stats and reader.error is None:
            priority = parse_priority_stats(read_text(os.path.join(cache, "priority_stats")))
        result.caches[name] = (values, priority)
    if reader.error is not None:
        raise reader.error
    return result


class BcacheCollector:
    def __init__(self, context: NodeContext, priority_stats: bool = False) -> None:
        self.context = context
        self.priority_stats = priority_stats

    def collect(self) -> Iterable[Metric]:
        sets = [read_bcache_set(p, self.priority_stats) for p in glob_sorted(self.context.sys("fs", "bcache", "*-*"))]
        families: dict[str, CounterFamily | GaugeFamily] = {}

        def family(metric: str, doc: str, typ: str, labels: list[str]) -> CounterFamily | GaugeFamily:
            name = "node_bcache_" + metric
            if name not in families:
                if typ == "counter":
                    families[name] = CounterFamily(name.removesuffix("_total"), doc, labels=labels)
                else:
                    families[name] = GaugeFamily(name, doc, labels=labels)
            return families[name]

        for s in sets:
            for file, metric, doc, typ, factor in SET_METRICS:
                value = float(s.values[file]) * factor if factor != 1.0 else float(s.values[file])
                family(metric, doc, typ, ["uuid"]).add_metric([s.uuid], value)
            for bdev, (values, writeback) in s.bdevs.items():
                labels = [s.uuid, bdev]
                family("dirty_data_bytes", "Amount of dirty data for this backing device in the cache.", "gauge",
                       ["uuid", "backing_device"]).add_metric(labels, float(values["dirty_data"]))
                for key, metric, doc in WRITEBACK_METRICS:
                    family(metric, doc, "gauge", ["uuid", "backing_device"]).add_metric(
                        labels, float(writeback.get(key, 0)))
                for file, metric, doc in PERIOD_METRICS:
                    family(metric, doc, "counter", ["uuid", "backing_device"]).add_metric(
                        labels, float(values[file]))
                # v1.7.0 omits the readahead counter when it is 0 (removed from the kernel in 5.x).
                if values[READAHEADS[0]] != 0:
                    family(READAHEADS[1], READAHEADS[2], "counter", ["uuid", "backing_device"]).add_metric(
                        labels, float(values[READAHEADS[0]]))
            for cache, (values, priority) in s.caches.items():
                labels = [s.uuid, cache]
                for file, metric, doc, typ in CACHE_METRICS:
                    family(metric, doc, typ, ["uuid", "cache_device"]).add_metric(labels, float(values[file]))
                if self.priority_stats:
                    for key, metric, doc in PRIORITY_METRICS:
                        family(metric, doc, "gauge", ["uuid", "cache_device"]).add_metric(
                            labels, float(priority.get(key, 0)))
        return list(families.values())


@dataclass(frozen=True)
class BcacheOptions:
    """The bcache collector's flags (``--collector.bcache.*``)."""

    priority_stats: bool = option("--collector.bcache.priorityStats", False, "Expose expensive priority stats.")


def build(context: NodeContext) -> BcacheCollector:
    return BcacheCollector(context, context.options(BcacheOptions).priority_stats)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Exposes bcache statistics from /sys/fs/bcache/.", options=BcacheOptions,
    source="/sys/fs/bcache/<uuid>/ and its bdev<N>/, cache<N>/ directories",
)
