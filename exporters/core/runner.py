"""Runs an exporter's collectors for one scrape: isolated, under a deadline.

A collector that raises costs only its own metrics: ``<ns>_scrape_collector_success{collector} 0``
and one log line naming it. A collector still running when the scrape deadline arrives is
reported the same way and the scrape answers with everything that did finish.

The collectors of a scrape are one ``StallingBatch``: one worker runs them in turn, and when
it makes no progress for ``STALL_SECONDS`` (a collector blocked on I/O) another takes over
the collectors not yet started, so a hung collector still costs only its own metrics.

Concurrent scrapes share a collection already in flight (one per collector at a time), so a
hung collector holds at most one worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from exporters.core.batch import DaemonPool, StallingBatch
from exporters.core.collector import Collector, FamilyDoc, NoDataError
from exporters.core.deadline import Deadline, DeadlineExceeded, deadline_scope
from exporters.core.metrics import GaugeFamily, Metric

# A logger, or an adapter adding context (a target) to every line.
Log = logging.Logger | logging.LoggerAdapter[logging.Logger]

# How long a batch may go without finishing a collector before another worker joins in.
STALL_SECONDS = 0.2
DURATION_HELP = "Duration of a collector scrape."
SUCCESS_HELP = "Whether a collector succeeded."


@dataclass
class CollectorResult:
    """What one collector produced in one run."""

    metrics: list[Metric] = field(default_factory=list)
    duration: float = 0.0
    success: bool = True


class _Job:
    """One run of one collector: claimed by exactly one worker, awaited by any scrape."""

    __slots__ = ("claim", "collector", "name", "result")

    def __init__(self, name: str, collector: Collector) -> None:
        self.name = name
        self.collector = collector
        self.result: CollectorResult | None = None  # set once, by the worker that claimed it
        self.claim = threading.Lock()


class CollectorRunner:
    """Runs named collectors and adds ``<ns>_scrape_collector_*`` self-metrics.

    With ``parallel`` (the default) a batch that stalls is helped by further workers, so
    collectors behind a slow one still finish; without it the collectors run strictly one
    after the other and those not started by the deadline are not started at all.
    With ``inline`` they run one after the other in the calling thread, with no hand-off
    and no sharing between concurrent calls: for collectors that take turns on one
    connection of one scrape, whose every read is bounded by that scrape's deadline.
    """

    def __init__(
        self,
        namespace: str,
        collectors: Mapping[str, Collector],
        logger: Log | None = None,
        parallel: bool = True,
        help_prefix: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        inline: bool = False,
    ) -> None:
        self.namespace = namespace
        self.help_prefix = help_prefix or f"{namespace}_exporter"
        self.collectors = dict(collectors)
        self.logger: Log = logger or logging.getLogger(f"exporters.{namespace}")
        self.parallel = parallel and not inline
        self.inline = inline
        self.clock = clock
        self._lock = threading.Lock()
        self._in_flight: dict[str, _Job] = {}
        self._finished = threading.Condition()
        # threads start on demand: a scrape that does not stall uses one
        self._pool = DaemonPool(f"{namespace}-collector", self.logger)

    def close(self) -> None:
        """Stop the worker pool without waiting for hung collectors."""
        self._pool.close()

    def _run_one(self, name: str, collector: Collector, deadline: float | None) -> CollectorResult:
        result = CollectorResult()
        begin = time.perf_counter()
        try:
            with deadline_scope(Deadline(deadline, self.clock)):
                result.metrics.extend(collector.collect())
        except DeadlineExceeded:
            result.success = False
            self.logger.error("collector stopped at the scrape deadline", extra={"collector": name})
        except NoDataError as err:
            result.success = False
            self.logger.debug(
                "collector returned no data", extra={"collector": name, "err": str(err)}
            )
        except Exception as err:  # noqa: BLE001 - isolation is the point: log, mark, go on
            result.success = False
            self.logger.error(
                "collector failed",
                extra={"collector": name, "err": f"{type(err).__name__}: {err}"},
            )
        result.duration = time.perf_counter() - begin
        return result

    def _run_job(self, job: _Job, deadline: float | None) -> None:
        """Run ``job`` unless another scrape's worker has it or, sequentially, time is up."""
        if job.result is not None or not job.claim.acquire(blocking=False):
            return
        if not self.parallel and deadline is not None and self.clock() >= deadline:
            job.claim.release()  # not started at all (a later scrape may still claim it)
            return
        try:
            job.result = self._run_one(job.name, job.collector, deadline)
        finally:
            with self._finished:
                self._finished.notify_all()  # scrapes waiting on a job another one runs

    def _jobs(self, names: list[str]) -> list[_Job]:
        jobs = []
        with self._lock:
            for name in names:
                job = self._in_flight.get(name)
                if job is None or job.result is not None:
                    job = _Job(name, self.collectors[name])
                    self._in_flight[name] = job
                jobs.append(job)
        return jobs

    def selected(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> list[str]:
        """The collector names a request asked for (``collect[]`` / ``exclude[]``)."""
        names = list(self.collectors)
        if include:
            wanted = set(include)
            names = [n for n in names if n in wanted]
        if exclude:
            unwanted = set(exclude)
            names = [n for n in names if n not in unwanted]
        return names

    def collect(self, deadline: float | None = None, names: Iterable[str] | None = None) -> list[Metric]:
        """Run the named collectors (default all) and return their metrics.

        ``deadline`` is a ``clock()`` instant; collectors not finished by then
        are reported as failed.
        """
        started = self.clock()
        selected = list(self.collectors) if names is None else list(names)
        if self.inline:
            jobs = [_Job(name, self.collectors[name]) for name in selected]
            for job in jobs:
                self._run_job(job, deadline)
            return self._results(jobs, started)
        jobs = self._jobs(selected)
        batch = StallingBatch(jobs, lambda job: self._run_job(job, deadline), self._pool, stall=STALL_SECONDS,
                              max_workers=None if self.parallel else 1, clock=self.clock)
        batch.run(deadline)
        # jobs that a concurrent scrape's worker runs: wait for them too, until the deadline
        with self._finished:
            while any(job.result is None for job in jobs):
                remaining = None if deadline is None else deadline - self.clock()
                if remaining is not None and remaining <= 0:
                    break
                self._finished.wait(STALL_SECONDS if remaining is None else min(STALL_SECONDS, remaining))
        return self._results(jobs, started)

    def _results(self, jobs: list[_Job], started: float) -> list[Metric]:
        out: list[Metric] = []
        outcomes: list[tuple[str, float, bool]] = []
        for job in jobs:
            name = job.name
            result = job.result
            if result is None:
                self.logger.error(
                    "collector did not finish before the scrape deadline",
                    extra={"collector": name},
                )
                outcomes.append((name, self.clock() - started, False))
                continue
            out.extend(result.metrics)
            outcomes.append((name, result.duration, result.success))
        out.extend(collector_families(self.namespace, self.help_prefix, outcomes))
        return out


def collector_families(namespace: str, help_prefix: str, outcomes: Iterable[tuple[str, float, bool]]) -> list[Metric]:
    """``<namespace>_scrape_collector_duration_seconds`` and ``..._success`` from
    (collector, seconds, success) rows; ``help_prefix`` is the upstream exporter's name."""
    duration = GaugeFamily(f"{namespace}_scrape_collector_duration_seconds", f"{help_prefix}: {DURATION_HELP}",
                           labels=["collector"])
    success = GaugeFamily(f"{namespace}_scrape_collector_success", f"{help_prefix}: {SUCCESS_HELP}",
                          labels=["collector"])
    for name, seconds, ok in outcomes:
        duration.add_metric([name], seconds)
        success.add_metric([name], 1.0 if ok else 0.0)
    return [duration, success]


def collector_family_docs(namespace: str, help_prefix: str) -> tuple[FamilyDoc, ...]:
    """The metrics reference's rows of ``collector_families``."""
    return tuple(FamilyDoc(f"{namespace}_scrape_collector_{name}", "gauge", ("collector",), f"{help_prefix}: {text}",
                           source="the collector runner") for name, text in (("duration_seconds", DURATION_HELP),
                                                                            ("success", SUCCESS_HELP)))
