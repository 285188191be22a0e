"""Metrics about the exporter process itself, named as the Go exporters name theirs.

``process_*`` come from client_python's process collector (Linux /proc/self) plus
``process_virtual_memory_max_bytes``, which client_golang has and client_python lacks.
Python's runtime metrics (``python_info``, ``python_gc_*``) stand where Go's ``go_*``
would be. ``promhttp_metric_handler_*`` count the scrapes as client_golang does.
"""

from __future__ import annotations

import gc
import platform
import resource
import sys
import threading
from collections.abc import Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from exporters import __version__
from exporters.core.metrics import CounterFamily, GaugeFamily

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x"}


def build_info(upstream: str, help_name: str | None = None) -> GaugeFamily:
    """``<upstream>_build_info`` with client_golang's label names."""
    family = GaugeFamily(
        f"{upstream}_build_info",
        f"A metric with a constant '1' value labeled by version, revision, branch, goversion from which "
        f"{help_name or upstream} was built, and the goos and goarch for the build.",
        labels=["branch", "goarch", "goos", "goversion", "revision", "tags", "version"],
    )
    family.add_metric(
        [
            "",
            _GOARCH.get(platform.machine(), platform.machine()),
            sys.platform if sys.platform != "darwin" else "darwin",
            f"python{platform.python_version()}",
            "",
            "",
            __version__,
        ],
        1.0,
    )
    return family


class HandlerStats:
    """``promhttp_metric_handler_requests_total{code}`` and ``..._requests_in_flight``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.codes: dict[str, int] = {"200": 0, "500": 0, "503": 0}
        self.in_flight = 0

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1

    def end(self, code: int) -> None:
        with self._lock:
            self.in_flight -= 1
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
        return [gauge, counter]


class ProcessMetrics:
    """process_*, python_info and python_gc_* for this process."""

    def __init__(self) -> None:
        self._process = ProcessCollector(registry=None)
        self._platform = PlatformCollector(registry=None)

    def collect(self) -> Iterable[Metric]:
        out: list[Metric] = list(self._process.collect())
        if out:
            limit = resource.getrlimit(resource.RLIMIT_AS)[0]
            vmax = GaugeFamily(
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
            )
            vmax.add_metric([], float(limit) if limit != resource.RLIM_INFINITY else 1.8446744073709552e19)
            out.append(vmax)
        out.extend(self._platform.collect())
        out.extend(_gc_metrics())
        return out


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
