"""Runs an exporter's collectors for one scrape: isolated, in parallel, under a deadline.

Each collector runs in a worker thread. A collector that raises costs only its own
metrics: ``<ns>_scrape_collector_success{collector} 0`` and one log line naming it.
A collector still running when the scrape deadline arrives is reported the same way and
the scrape answers with everything that did finish.

Concurrent scrapes share a collection already in flight (one per collector at a time),
so a hung collector holds at most one worker thread, and the pool (one worker per
collector) can never be exhausted by it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from exporters.core.collector import Collector, NoDataError


@dataclass
class CollectorResult:
    """What one collector produced in one run."""

    metrics: list[Metric] = field(default_factory=list)
    duration: float = 0.0
    success: bool = True


class CollectorRunner:
    """Runs named collectors and adds ``<ns>_scrape_collector_*`` self-metrics."""

    def __init__(
        self,
        namespace: str,
        collectors: Mapping[str, Collector],
        logger: logging.Logger | None = None,
        parallel: bool = True,
        help_prefix: str | None = None,
    ) -> None:
        self.namespace = namespace
        self.help_prefix = help_prefix or f"{namespace}_exporter"
        self.collectors = dict(collectors)
        self.logger = logger or logging.getLogger(f"exporters.{namespace}")
        self.parallel = parallel
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future[CollectorResult]] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(self.collectors)), thread_name_prefix=f"{namespace}-collector"
        )

    def close(self) -> None:
        """Stop the worker pool without waiting for hung collectors."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run_one(self, name: str, collector: Collector) -> CollectorResult:
        result = CollectorResult()
        begin = time.perf_counter()
        try:
            for metric in collector.collect():
                result.metrics.append(metric)
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

    def _submit(self, name: str) -> Future[CollectorResult]:
        with self._lock:
            running = self._in_flight.get(name)
            if running is not None and not running.done():
                return running
            future = self._pool.submit(self._run_one, name, self.collectors[name])
            self._in_flight[name] = future
            return future

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

        ``deadline`` is a ``time.monotonic()`` instant; collectors not finished by then
        are reported as failed.
        """
        started = time.monotonic()
        selected = list(self.collectors) if names is None else list(names)
        results: dict[str, CollectorResult | None] = {}
        if self.parallel and len(selected) > 1:
            futures = {name: self._submit(name) for name in selected}
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            wait_futures(list(futures.values()), timeout=timeout)
            for name, future in futures.items():
                results[name] = future.result() if future.done() else None
        else:
            for name in selected:
                if deadline is not None and time.monotonic() >= deadline:
                    results[name] = None  # no time left: not started at all
                    continue
                future = self._submit(name)
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                wait_futures([future], timeout=timeout)
                results[name] = future.result() if future.done() else None

        duration = GaugeMetricFamily(
            f"{self.namespace}_scrape_collector_duration_seconds",
            f"{self.help_prefix}: Duration of a collector scrape.",
            labels=["collector"],
        )
        success = GaugeMetricFamily(
            f"{self.namespace}_scrape_collector_success",
            f"{self.help_prefix}: Whether a collector succeeded.",
            labels=["collector"],
        )
        out: list[Metric] = []
        for name in selected:
            result = results[name]
            if result is None:
                self.logger.error(
                    "collector did not finish before the scrape deadline",
                    extra={"collector": name},
                )
                duration.add_metric([name], time.monotonic() - started)
                success.add_metric([name], 0.0)
                continue
            out.extend(result.metrics)
            duration.add_metric([name], result.duration)
            success.add_metric([name], 1.0 if result.success else 0.0)
        out.append(duration)
        out.append(success)
        return out
