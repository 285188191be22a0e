"""The one way to build metric families: fresh families each scrape, as Go's const metrics.

Every collector of the three exporters yields families of this module:

* ``GaugeFamily`` / ``CounterFamily`` (``<name>_total``) / ``ExactFamily`` (``exact_counter``,
  ``exact_gauge``, ``exact_untyped``: the series carries exactly the family name, for the
  upstream counters that lack ``_total``) keep each series as a row of label values and a
  value under the family's one tuple of label names: no ``Sample`` and no label ``dict`` per
  series, which is most of the cost of a family with many series;
* ``HistogramFamily`` and ``SummaryFamily`` are Go's ``MustNewConstHistogram`` /
  ``MustNewConstSummary``; ``InfoFamily`` is a gauge of 1 whose labels carry the information;
* ``FamilySet`` creates a family on first use and returns the same one after
  (get-or-create by name), for collectors that meet their series in arbitrary order.

``Metric`` and ``Sample`` have prometheus_client's shape (``name``, ``documentation``,
``type``, ``unit``, ``samples``) so the exposition reads any of them alike, but no runtime
module imports prometheus_client: importing it costs 4 MiB of RSS and a third or more of
start-up time (it pulls in its HTTP server). prometheus_client is used by the tests only,
to parse what we serve with the reference parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from exporters.core.gofloat import format_value

METRIC_TYPES = frozenset({"counter", "gauge", "summary", "histogram", "gaugehistogram", "unknown", "info",
                          "stateset"})


class Sample(NamedTuple):
    """One series: prometheus_client's ``Sample`` fields."""

    name: str
    labels: dict[str, str]
    value: float
    timestamp: Any = None
    exemplar: Any = None
    native_histogram: Any = None


class Metric:
    """A metric family: name, help, type and its series as ``Sample`` objects."""

    def __init__(self, name: str, documentation: str, typ: str, unit: str = "") -> None:
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
        self.samples: list[Sample] = []

    def add_sample(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self.samples.append(Sample(name, dict(labels), value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.type!r}, {len(self.samples)} samples)"


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
    samples: list[Sample]  # a property below: rows until something reads them
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

    @property  # type: ignore[no-redef]
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


class InfoFamily(Family):
    """A gauge of 1 per series whose labels carry the information (``node_uname_info``).

    The name is used as given: Go's exporters spell the ``_info`` suffix themselves.
    """

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, "gauge", labels)

    def add_metric(self, labels: Sequence[str], value: float = 1.0) -> None:
        self._add(labels, value)


def _pairs(values: Mapping[float, float] | Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    items = values.items() if isinstance(values, Mapping) else values
    return sorted((float(k), float(v)) for k, v in items)


class HistogramFamily(Metric):
    """Go's ``MustNewConstHistogram``: cumulative bucket counts by upper bound, a count and a sum."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = (), unit: str = "") -> None:
        super().__init__(name, documentation, "histogram", unit)
        self.labelnames = tuple(labels)

    def add_metric(
        self,
        labels: Sequence[str],
        count: float,
        total: float,
        buckets: Mapping[float, float] | Iterable[tuple[float, float]],
    ) -> None:
        """One histogram; ``buckets`` maps each upper bound to its cumulative count.

        The ``+Inf`` bucket is ``count``, as Go adds it; a given ``+Inf`` bound is ignored.
        """
        base = _label_dict(self.name, self.labelnames, labels)
        append = self.samples.append
        for bound, value in _pairs(buckets):
            if bound != float("inf"):
                append(Sample(self.name + "_bucket", {**base, "le": _bound(bound)}, value))
        append(Sample(self.name + "_bucket", {**base, "le": "+Inf"}, float(count)))
        append(Sample(self.name + "_sum", base, float(total)))
        append(Sample(self.name + "_count", base, float(count)))


class SummaryFamily(Metric):
    """Go's ``MustNewConstSummary``: quantiles (formatted as Go does: "0.5", "99.9"), a count and a sum."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = (), unit: str = "") -> None:
        super().__init__(name, documentation, "summary", unit)
        self.labelnames = tuple(labels)

    def add_metric(
        self,
        labels: Sequence[str],
        count: float,
        total: float,
        quantiles: Mapping[float, float] | Iterable[tuple[float, float]] = (),
    ) -> None:
        base = _label_dict(self.name, self.labelnames, labels)
        append = self.samples.append
        for quantile, value in _pairs(quantiles):
            append(Sample(self.name, {**base, "quantile": _bound(quantile)}, value))
        append(Sample(self.name + "_sum", base, float(total)))
        append(Sample(self.name + "_count", base, float(count)))


def _label_dict(name: str, names: tuple[str, ...], values: Sequence[str]) -> dict[str, str]:
    if len(values) != len(names):
        raise ValueError(f"{name}: {len(values)} label values for {len(names)} label names")
    return dict(zip(names, values, strict=True))


def _bound(value: float) -> str:
    return format_value(value)


class FamilyConflict(ValueError):
    """A family asked for again with another type or other label names."""


class FamilySet:
    """Get-or-create families by name for one scrape, in first-use order.

    ``gauge("x", ...)`` returns the family ``x`` if this set made it already (with the same
    type and label names), else a new one; a mismatch raises ``FamilyConflict``, which the
    caller turns into a log line and a skipped series.
    """

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}

    def _get(self, name: str, typ: str, labels: Sequence[str], make: Any) -> Any:
        family = self._families.get(name)
        if family is None:
            family = make()
            self._families[name] = family
            return family
        if family.type != typ or getattr(family, "labelnames", ()) != tuple(labels):
            raise FamilyConflict(f"{name}: already a {family.type} with labels "
                                 f"{list(getattr(family, 'labelnames', ()))}, not a {typ} with {list(labels)}")
        return family

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> GaugeFamily:
        family: GaugeFamily = self._get(name, "gauge", labels,
                                        lambda: GaugeFamily(name, documentation, labels=tuple(labels)))
        return family

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> CounterFamily:
        family: CounterFamily = self._get(name, "counter", labels,
                                          lambda: CounterFamily(name, documentation, labels=tuple(labels)))
        return family

    def exact(self, name: str, documentation: str, typ: str, labels: Sequence[str] = ()) -> ExactFamily:
        """A family whose series are named exactly ``name`` (``exact_counter`` and friends)."""
        family: ExactFamily = self._get(name, "unknown" if typ == "untyped" else typ, labels,
                                        lambda: ExactFamily(name, documentation, typ, tuple(labels)))
        return family

    def histogram(self, name: str, documentation: str, labels: Sequence[str] = ()) -> HistogramFamily:
        family: HistogramFamily = self._get(name, "histogram", labels,
                                            lambda: HistogramFamily(name, documentation, labels))
        return family

    def summary(self, name: str, documentation: str, labels: Sequence[str] = ()) -> SummaryFamily:
        family: SummaryFamily = self._get(name, "summary", labels, lambda: SummaryFamily(name, documentation, labels))
        return family

    def __contains__(self, name: str) -> bool:
        return name in self._families

    def families(self) -> list[Metric]:
        return list(self._families.values())
