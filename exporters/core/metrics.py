"""Helpers for building metric families.

Collectors yield ``prometheus_client`` metric families (``GaugeMetricFamily``,
``CounterMetricFamily``, ``UnknownMetricFamily`` ...), built fresh on every scrape.
Upstream exporters have a few counters whose series name does not end in ``_total``
(redis_exporter has several); ``CounterMetricFamily`` would append the suffix, so
``exact_counter`` builds one whose single series name is exactly the given name.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample


class ExactFamily(Metric):
    """A family whose samples carry exactly the family name, whatever its type."""

    def __init__(self, name: str, documentation: str, typ: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, typ)
        self._labelnames = tuple(labels)

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        self.samples.append(
            Sample(self.name, dict(zip(self._labelnames, labels, strict=True)), float(value), None, None, None)
        )


def exact_counter(name: str, documentation: str, labels: Sequence[str] = ()) -> ExactFamily:
    """A counter family emitted as ``name`` (no ``_total`` appended)."""
    return ExactFamily(name, documentation, "counter", labels)


def exact_gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> ExactFamily:
    """A gauge family; its name may end in ``_total`` as some upstream gauges do."""
    return ExactFamily(name, documentation, "gauge", labels)


def exact_untyped(name: str, documentation: str, labels: Sequence[str] = ()) -> ExactFamily:
    """An untyped family (``UnknownMetricFamily`` with no renaming)."""
    return ExactFamily(name, documentation, "unknown", labels)
