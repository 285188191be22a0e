"""Metrics about the exporter process itself, named as the Go exporters name theirs.

``process_*`` are client_golang's process collector's, read from /proc/self as it reads
them. Python's runtime metrics (``python_info``, ``python_gc_*``) stand where Go's ``go_*``
would be. ``promhttp_metric_handler_*`` count the scrapes as client_golang does.
"""

from __future__ import annotations

import gc
import logging
import os
import platform
import resource
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from exporters import __version__
from exporters.core.collector import FamilyDoc
from exporters.core.exposition import SeriesGuard
from exporters.core.logs import goarch
from exporters.core.metrics import CounterFamily, ExactFamily, GaugeFamily, Metric, SummaryFamily


def build_info(name: str, help_text: str, labels: Mapping[str, str]) -> GaugeFamily:
    """A build-info gauge of 1, with the name, help and label names (in this order) of the
    upstream exporter."""
    family = GaugeFamily(name, help_text, labels=list(labels))
    family.add_metric(list(labels.values()), 1.0)
    return family


def go_build_info(upstream: str, help_name: str | None = None) -> GaugeFamily:
    """``<upstream>_build_info`` with client_golang's label names (node_exporter, postgres_exporter)."""
    return build_info(
        f"{upstream}_build_info",
        f"A metric with a constant '1' value labeled by version, revision, branch, goversion from which "
        f"{help_name or upstream} was built, and the goos and goarch for the build.",
        {
            "branch": "",
            "goarch": goarch(),
            "goos": sys.platform if sys.platform != "darwin" else "darwin",
            "goversion": f"python{platform.python_version()}",
            "revision": "",
            "tags": "",
            "version": __version__,
        },
    )


@dataclass(frozen=True)
class Stat:
    """One family of an exporter's own statistics, named as upstream names it: a counter or
    gauge of the value ``value``, or a summary whose count is ``value`` and sum ``total``."""

    name: str
    type: str
    help: str
    value: str
    total: str = ""


class SelfStats:
    """An exporter's own statistics (scrapes, errors, durations): values under one lock,
    exported as the families of a ``Stat`` table, each with the same ``labels``."""

    def __init__(self, stats: Sequence[Stat], labels: Mapping[str, str] | None = None) -> None:
        self.stats = tuple(stats)
        self.labels = dict(sorted((labels or {}).items()))
        self._lock = threading.Lock()
        self._values: dict[str, float] = {}
        for stat in self.stats:
            self._values.update(dict.fromkeys(filter(None, (stat.value, stat.total)), 0.0))

    def add(self, **amounts: float) -> None:
        with self._lock:
            for key, amount in amounts.items():
                self._values[key] += amount

    def set(self, **values: float) -> None:
        with self._lock:
            for key, value in values.items():
                self._values[key] = value

    def collect(self) -> list[Metric]:
        with self._lock:
            values = dict(self._values)
        names, label_values = list(self.labels), list(self.labels.values())
        out: list[Metric] = []
        for stat in self.stats:
            if stat.type == "summary":
                summary = SummaryFamily(stat.name, stat.help, names)
                summary.add_metric(label_values, values[stat.value], values[stat.total], {})
                out.append(summary)
            else:
                family = ExactFamily(stat.name, stat.help, stat.type, names)
                family.add_metric(label_values, values[stat.value])
                out.append(family)
        return out

    @staticmethod
    def docs(stats: Iterable[Stat], source: str) -> tuple[FamilyDoc, ...]:
        """The metrics reference's rows of a ``Stat`` table."""
        return tuple(FamilyDoc(s.name, s.type, (), s.help, source=source) for s in stats)


class HandlerStats:
    """``promhttp_metric_handler_requests_total{code}``, ``..._requests_in_flight`` and, where the
    upstream version registers it (node_exporter), ``..._errors_total{cause}``."""

    def __init__(self, errors: bool = False) -> None:
        self._lock = threading.Lock()
        self.codes: dict[str, int] = {"200": 0, "500": 0, "503": 0}
        self.in_flight = 0
        self.errors: dict[str, int] | None = {"encoding": 0, "gathering": 0} if errors else None

    def error(self, cause: str) -> None:
        """A gathering error (a repeated series) or an encoding error, as promhttp counts them."""
        with self._lock:
            if self.errors is not None:
                self.errors[cause] = self.errors.get(cause, 0) + 1

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1

    def end(self, code: int) -> None:
        with self._lock:
            self.in_flight -= 1
            self.codes[str(code)] = self.codes.get(str(code), 0) + 1

    def answered(self, code: int) -> None:
        """A scrape answered without running the handler: the in-flight limit's 503, or one
        that shared an identical scrape's answer (``--scrape.share``)."""
        with self._lock:
            self.codes[str(code)] = self.codes.get(str(code), 0) + 1

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            codes = dict(self.codes)
            in_flight = self.in_flight
        gauge = GaugeFamily(
            "promhttp_metric_handler_requests_in_flight", "Current number of scrapes being served."
        )
        gauge.add_metric([], in_flight)
        counter = CounterFamily(
            "promhttp_metric_handler_requests_total", "Total number of scrapes by HTTP status code.", labels=["code"]
        )
        for code, count in sorted(codes.items()):
            counter.add_metric([code], count)
        if self.errors is None:
            return [gauge, counter]
        with self._lock:
            errors = dict(self.errors)
        failed = CounterFamily("promhttp_metric_handler_errors_total",
                               "Total number of internal errors encountered by the promhttp metric handler.",
                               labels=["cause"])
        for cause, count in sorted(errors.items()):
            failed.add_metric([cause], count)
        return [failed, gauge, counter]


class SeriesDrops:
    """``exporters_series_dropped_total{reason}``: series a render cut (ours; shown once non-zero).

    ``duplicate``: a series repeated within a scrape (the first one is served, the family is
    logged once); ``limit``: series beyond ``--scrape.max-series``.
    """

    LOGGED_FAMILIES = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.dropped: dict[str, int] = {"duplicate": 0, "limit": 0}
        self._logged: set[str] = set()

    def record(self, guard: SeriesGuard, logger: logging.Logger, stats: HandlerStats) -> None:
        if not guard.duplicates and not guard.over_limit:
            return
        fresh: list[str] = []
        with self._lock:
            self.dropped["duplicate"] += sum(guard.duplicates.values())
            self.dropped["limit"] += guard.over_limit
            for family in guard.duplicates:
                if family not in self._logged and len(self._logged) < self.LOGGED_FAMILIES:
                    self._logged.add(family)
                    fresh.append(family)
        for family in fresh:
            logger.error("a series was collected twice in one scrape: the first one is served",
                         extra={"family": family, "repeats": guard.duplicates[family]})
        if guard.duplicates:
            stats.error("gathering")
        if guard.over_limit:
            logger.warning("scrape cut at --scrape.max-series", extra={"max_series": guard.max_series,
                                                                       "dropped": guard.over_limit})

    def collect(self) -> list[Metric]:
        with self._lock:
            dropped = dict(self.dropped)
        if not any(dropped.values()):
            return []
        family = CounterFamily("exporters_series_dropped", "Series left out of a scrape's answer, by reason.",
                               labels=["reason"])
        for reason, count in sorted(dropped.items()):
            family.add_metric([reason], count)
        return [family]


class ProcessMetrics:
    """process_*, python_info and python_gc_* for this process."""

    def __init__(self, procfs: str = "/proc") -> None:
        self.procfs = procfs
        self._ticks = float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0
        self._page = float(resource.getpagesize())
        self._boot_time: float | None = None
        # the running kernel's procfs (not a copy of one): its fd directory's size can be the count
        self._live = os.path.realpath(os.path.join(procfs, "self")) == os.path.join(procfs, str(os.getpid()))
        version = platform.python_version_tuple()
        info = GaugeFamily("python_info", "Python platform information",
                           labels=["implementation", "major", "minor", "patchlevel", "version"])
        info.add_metric([platform.python_implementation(), *version, platform.python_version()], 1.0)
        self._python_info = info

    def _boot(self) -> float:
        if self._boot_time is None:
            self._boot_time = 0.0
            try:
                with open(os.path.join(self.procfs, "stat"), "rb") as handle:
                    for line in handle:
                        if line.startswith(b"btime "):
                            self._boot_time = float(line.split()[1])
                            break
            except (OSError, ValueError, IndexError):
                pass
        return self._boot_time

    def _process(self) -> list[Metric]:
        try:
            with open(os.path.join(self.procfs, "self", "stat"), "rb") as handle:
                stat = handle.read()
        except OSError:
            return []
        # after the command name, which may contain spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        try:
            utime, stime = float(fields[11]), float(fields[12])
            start = float(fields[19])
            vsize, rss = float(fields[20]), float(fields[21])
        except (IndexError, ValueError):
            return []
        out: list[Metric] = [
            CounterFamily("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                          value=(utime + stime) / self._ticks),
            GaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", value=vsize),
            GaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.", value=rss * self._page),
            GaugeFamily("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                        value=self._boot() + start / self._ticks),
        ]
        try:
            out.append(GaugeFamily("process_open_fds", "Number of open file descriptors.",
                                   value=float(open_fds(os.path.join(self.procfs, "self", "fd"), self._live))))
        except OSError:
            pass
        out.append(GaugeFamily("process_max_fds", "Maximum number of open file descriptors.",
                               value=_limit(resource.RLIMIT_NOFILE)))
        vmax = "Maximum amount of virtual memory available in bytes."
        out.append(GaugeFamily("process_virtual_memory_max_bytes", vmax, value=_limit(resource.RLIMIT_AS)))
        return out

    def collect(self) -> Iterable[Metric]:
        return [*self._process(), self._python_info, *_gc_metrics()]


def open_fds(fd_dir: str, live: bool = True) -> int:
    """How many descriptors ``/proc/<pid>/fd`` lists.

    Since Linux 6.2 procfs gives the count as the directory's size: one stat instead of a
    listing that costs 1.5 ms of CPU per scrape at 4,000 connections (client_golang's procfs
    takes the same shortcut). Older kernels say 0 there; a directory that is not procfs
    (``live`` false) has a size of its own: both are listed.
    """
    if live:
        size = os.stat(fd_dir).st_size
        if size > 0:
            return size
    return len(os.listdir(fd_dir))


def _limit(which: int) -> float:
    """A soft resource limit; unlimited is Go's uint64 maximum."""
    soft = resource.getrlimit(which)[0]
    return float(soft) if soft != resource.RLIM_INFINITY else 1.8446744073709552e19


def _gc_metrics() -> list[Metric]:
    collected = CounterFamily(
        "python_gc_objects_collected", "Objects collected during gc", labels=["generation"]
    )
    uncollectable = CounterFamily(
        "python_gc_objects_uncollectable", "Uncollectable objects found during GC", labels=["generation"]
    )
    collections = CounterFamily(
        "python_gc_collections", "Number of times this generation was collected", labels=["generation"]
    )
    for generation, stat in enumerate(gc.get_stats()):
        collected.add_metric([str(generation)], stat["collected"])
        uncollectable.add_metric([str(generation)], stat["uncollectable"])
        collections.add_metric([str(generation)], stat["collections"])
    return [collected, uncollectable, collections]
