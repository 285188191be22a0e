"""Helpers for building metric families.

Collectors yield ``prometheus_client`` metric families (``GaugeMetricFamily``,
``CounterMetricFamily``, ``UnknownMetricFamily`` ...), built fresh on every scrape, or the
lighter ``GaugeFamily`` / ``CounterFamily`` / ``ExactFamily`` of this module, which take
the same arguments but keep each sample as a tuple of label values and a value under the
family's one tuple of label names: no ``Sample`` and no label ``dict`` per sample, which is
most of the cost of a family with many series. They are still ``Metric`` objects:
``samples`` builds the ``Sample`` list the first time something reads it.

Upstream exporters have a few counters whose series name does not end in ``_total``
(redis_exporter has several); ``CounterMetricFamily`` would append the suffix, so
``exact_counter`` builds one whose single series name is exactly the given name.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from prometheus_client.metrics_core import METRIC_TYPES, Metric
from prometheus_client.samples import Sample

Row = tuple[tuple[str, ...], float]


@lru_cache(maxsize=65536)
def _checked_name(name: str) -> str:
    """``Metric``'s name check (not empty, encodable), once per name: the same families come back."""
    if not name:
        raise ValueError("metric name cannot be empty")
    try:
        name.encode("utf-8")
    except UnicodeError:
        raise ValueError("invalid metric name " + name) from None
    return name


class Family(Metric):
    """A family whose series are all named ``sample_name``, stored as rows of label values."""

    # Metric.__init__ is not called: these families are built by the hundred per scrape,
    # so its work (the same attributes, the name check) is done here the cheap way.
    def __init__(
        self, name: str, documentation: str, typ: str, labels: Sequence[str] = (), sample_name: str | None = None,
        unit: str = "",
    ) -> None:
        if unit and not name.endswith("_" + unit):
            name += "_" + unit
        if typ == "untyped":
            typ = "unknown"
        if typ not in METRIC_TYPES:
            raise ValueError("Invalid metric type: " + typ)
        self.name = _checked_name(name)
        self.documentation = documentation
        self.unit = unit
        self.type = typ
        self._rows: list[Row] = []
        self._materialized: list[Sample] | None = None
        self.labelnames: tuple[str, ...] = labels if type(labels) is tuple else tuple(labels)
        self.sample_name = sample_name if sample_name is not None else name

    @property
    def samples(self) -> list[Sample]:
        if self._materialized is None:
            names = self.labelnames
            self._materialized = [
                Sample(self.sample_name, dict(zip(names, values, strict=True)), value, None, None, None)
                for values, value in self._rows
            ]
            self._rows = []
        return self._materialized

    @samples.setter
    def samples(self, samples: list[Sample]) -> None:
        # Metric.__init__ starts every family with an empty list: keep to rows until needed
        self._rows = []
        self._materialized = samples if samples else None

    @property
    def rows(self) -> list[Row] | None:
        """The samples as (label values, value), or None once they are ``Sample`` objects."""
        return self._rows if self._materialized is None else None

    def has_samples(self) -> bool:
        return bool(self._rows) if self._materialized is None else bool(self._materialized)

    def _add(self, labels: Sequence[str], value: float) -> None:
        values = labels if type(labels) is tuple else tuple(labels)
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: {len(values)} label values for {len(self.labelnames)} label names")
        if self._materialized is None:
            self._rows.append((values, value))
        else:
            self._materialized.append(
                Sample(self.sample_name, dict(zip(self.labelnames, values, strict=True)), value, None, None, None)
            )


class ExactFamily(Family):
    """A family whose samples carry exactly the family name, whatever its type."""

    def __init__(self, name: str, documentation: str, typ: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, typ, labels)

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        self._add(labels, float(value))


class GaugeFamily(Family):
    """``GaugeMetricFamily``'s arguments and series, stored as rows."""

    def __init__(
        self, name: str, documentation: str, value: float | None = None, labels: Sequence[str] | None = None,
        unit: str = "",
    ) -> None:
        if labels is not None and value is not None:
            raise ValueError("Can only specify at most one of value and labels.")
        super().__init__(name, documentation, "gauge", labels or (), unit=unit)
        if value is not None:
            self._rows.append(((), value))

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        self._add(labels, value)


class CounterFamily(Family):
    """``CounterMetricFamily``'s arguments and series (``<name>_total``), stored as rows."""

    def __init__(
        self, name: str, documentation: str, value: float | None = None, labels: Sequence[str] | None = None,
        unit: str = "",
    ) -> None:
        if name.endswith("_total"):
            name = name[:-6]
        if labels is not None and value is not None:
            raise ValueError("Can only specify at most one of value and labels.")
        super().__init__(name, documentation, "counter", labels or (), unit=unit)
        self.sample_name = self.name + "_total"
        if value is not None:
            self._rows.append(((), value))

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        self._add(labels, value)


def exact_counter(name: str, documentation: str, labels: Sequence[str] = ()) -> ExactFamily:
    """A counter family emitted as ``name`` (no ``_total`` appended)."""
    return ExactFamily(name, documentation, "counter", labels)


def exact_gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> ExactFamily:
    """A gauge family; its name may end in ``_total`` as some upstream gauges do."""
    return ExactFamily(name, documentation, "gauge", labels)


def exact_untyped(name: str, documentation: str, labels: Sequence[str] = ()) -> ExactFamily:
    """An untyped family (``UnknownMetricFamily`` with no renaming)."""
    return ExactFamily(name, documentation, "unknown", labels)
