"""The one engine: a query's result -> metric families, for every postgres metric.

A ``MetricMap`` says what each result column is (upstream's queries-file usages: LABEL,
DISCARD, COUNTER, GAUGE, HISTOGRAM, MAPPEDMETRIC, DURATION) and under which family name it
is exported. The built-in collectors (``collectors/``), upstream's built-in namespaces
(``default_metrics.py``) and the queries file's namespaces are all maps; ``QueryCollector``
runs one map's query. A scrape is a ``Plan`` of such collectors (``scrape.py``): the
statements it sends are the plan's, and each collector's families come from its own
results, so ``pg_scrape_collector_success`` covers every family.

Conversions follow postgres_exporter (``values.py``): a value that cannot be converted
is skipped with a log line, as upstream's "non-fatal" errors are; upstream's ``nil`` is NaN.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from exporters.core.deadline import Deadline
from exporters.core.metrics import ExactFamily, HistogramFamily, Metric, exact_counter, exact_gauge, exact_untyped
from exporters.postgres.connection import Result, Statement
from exporters.postgres.values import (
    ConversionError,
    go_duration_ms,
    interval_ms,
    to_float,
    to_float_list,
    to_label,
)
from exporters.postgres.versions import Version, VersionRange, parse_range

USAGES = ("DISCARD", "LABEL", "COUNTER", "GAUGE", "HISTOGRAM", "MAPPEDMETRIC", "DURATION")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# how many rows are converted between two looks at the clock
DEADLINE_EVERY = 1024


@dataclass(frozen=True)
class Server:
    """What a collector knows about the server of this scrape: its version, the labels
    of its namespaces' families (``server`` and ``--constantLabels``), the deadline."""

    version: Version
    labels: Mapping[str, str] = field(default_factory=dict)
    deadline: float | None = None


@dataclass(frozen=True)
class ColumnMap:
    """How one result column becomes a label, a family, or nothing.

    ``metric`` names the family (default ``<prefix>_<column>``, ``_milliseconds`` added for
    DURATION); ``null`` is the value of a NULL (None: no sample).
    """

    name: str
    usage: str
    description: str = ""
    mapping: Mapping[str, float] | None = None
    versions: VersionRange | None = None
    metric: str = ""
    null: float | None = math.nan
    line: int = 0

    def supported(self, version: Version) -> bool:
        return self.versions is None or self.versions(version)

    def family(self, prefix: str) -> tuple[str, str] | None:
        """(family name, type) this column writes, or None for a label or a discarded column."""
        if self.usage in ("DISCARD", "LABEL"):
            return None
        if self.usage == "DURATION":
            return self.metric or f"{prefix}_{self.name}_milliseconds", "gauge"
        kind = {"COUNTER": "counter", "HISTOGRAM": "histogram"}.get(self.usage, "gauge")
        return self.metric or f"{prefix}_{self.name}", kind


@dataclass(frozen=True)
class MetricMap:
    """A query's columns -> families.

    ``server_labels``: the families carry the per-server labels (``server`` and
    ``--constantLabels``), as upstream's namespaces do and its collector package does not.
    ``unmapped``: a numeric column the map does not name is exported as untyped
    ``<prefix>_<column>`` (upstream's namespaces). ``required``: a NULL in one of these
    columns drops the row. ``only_when``: boolean column -> families written only when true.
    """

    prefix: str
    columns: Mapping[str, ColumnMap]
    server_labels: bool = True
    unmapped: bool = True
    label_null: str = ""
    required: tuple[str, ...] = ()
    only_when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def label_columns(self, version: Version) -> list[str]:
        return [c.name for c in self.columns.values() if c.usage == "LABEL" and c.supported(version)]

    def families(self) -> list[tuple[str, str, ColumnMap]]:
        """(family name, type, column) for every column that writes a family."""
        out = []
        for col in self.columns.values():
            shape = col.family(self.prefix)
            if shape is not None:
                out.append((shape[0], shape[1], col))
        return out

    def series_names(self) -> list[str]:
        """Every series name the map can write (a histogram writes three)."""
        names: list[str] = []
        for name, kind, _ in self.families():
            names.extend([name + s for s in HISTOGRAM_SUFFIXES] if kind == "histogram" else [name])
        return names

    def build(
        self, result: Result, version: Version, server_labels: Mapping[str, str], logger: logging.Logger,
        deadline: float | None = None, clock: Callable[[], float] = time.monotonic,
    ) -> list[Metric]:
        """The families of one result (no I/O); checks the deadline every few rows."""
        return _Builder(self, result, version, server_labels if self.server_labels else {}, logger).run(
            deadline, clock)


def _new_family(name: str, kind: str, help_text: str, labels: Sequence[str]) -> Metric:
    if kind == "histogram":
        return HistogramFamily(name, help_text, labels)
    if kind == "counter":
        return exact_counter(name, help_text, labels)
    if kind == "gauge":
        return exact_gauge(name, help_text, labels)
    return exact_untyped(name, help_text, labels)


def _convert(col: ColumnMap | None) -> Callable[[Any], float | None]:
    """The value converter of a column: None means "no sample" for this value.

    Every column is first read as upstream reads every non-histogram column (its
    MAPPEDMETRIC and DURATION conversions are never called: a number is exported as it is,
    text that is not a number is skipped). Only where that gives nothing does a
    MAPPEDMETRIC column map its text and a DURATION column parse Go duration or interval
    text into milliseconds (ours; README).
    """
    null = math.nan if col is None else col.null

    def number(value: Any) -> float | None:
        if value is None:
            return null
        return to_float(value)

    if col is not None and col.usage == "MAPPEDMETRIC":
        mapping = col.mapping or {}

        def mapped(value: Any) -> float | None:
            try:
                return number(value)
            except ConversionError:
                if type(value) is not str or value not in mapping:
                    raise
                return mapping[value]
        return mapped
    if col is not None and col.usage == "DURATION":
        def duration(value: Any) -> float | None:
            try:
                return number(value)
            except ConversionError:
                if type(value) is not str:
                    raise
            try:
                return go_duration_ms(value)
            except ConversionError:
                return interval_ms(value)
        return duration
    return number


class _Builder:
    def __init__(
        self, spec: MetricMap, result: Result, version: Version, server_labels: Mapping[str, str],
        logger: logging.Logger,
    ) -> None:
        self.spec = spec
        self.result = result
        self.version = version
        self.logger = logger
        self.server_labels = server_labels
        self.labels = spec.label_columns(version)
        self.label_names = sorted([*self.labels, *server_labels])
        self.families: dict[str, Metric] = {}
        self.problems = 0

    def _family(self, name: str, kind: str, help_text: str) -> Metric:
        fam = self.families.get(name)
        if fam is None:
            fam = _new_family(name, kind, help_text, self.label_names)
            self.families[name] = fam
        return fam

    def run(self, deadline: float | None, clock: Callable[[], float]) -> list[Metric]:
        spec, result = self.spec, self.result
        index = {name: i for i, name in enumerate(result.columns)}
        skip = {c.name for c in spec.columns.values()
                if c.usage in ("DISCARD", "LABEL") or not c.supported(self.version)}
        histograms = [c for c in spec.columns.values() if c.usage == "HISTOGRAM" and c.supported(self.version)]
        for hist in histograms:
            skip.add(hist.name)
            skip.update(hist.name + s for s in HISTOGRAM_SUFFIXES)
        hidden_by: list[tuple[int, set[str]]] = [
            (index[flag], set(names)) for flag, names in spec.only_when.items() if flag in index]
        # per exported column, worked out once: (index, family name, converter, add_metric or None)
        plan: list[tuple[int, str, Callable[[Any], float | None], Callable[[Sequence[str], float], None]]] = []
        for i, column in enumerate(result.columns):
            if column in skip:
                continue
            col = spec.columns.get(column)
            if col is None:
                if not spec.unmapped:
                    continue
                name, kind, help_text = f"{spec.prefix}_{column}", "untyped", f"Unknown metric from {spec.prefix}"
            else:
                name, kind = col.family(spec.prefix) or ("", "")
                help_text = col.description
            fam = self._family(name, kind, help_text)
            assert isinstance(fam, ExactFamily)
            plan.append((i, name, _convert(col), fam.add_metric))
        hist_plan = [(col, self._family(*_hist_shape(spec, col))) for col in histograms]
        required = [index[r] for r in spec.required if r in index]
        label_index = [index.get(name, -1) for name in self.labels]
        null_label = spec.label_null
        constant = dict(self.server_labels)
        positions = {name: i for i, name in enumerate(self.label_names)}
        order = [positions[name] for name in self.labels]
        template = [constant.get(name, "") for name in self.label_names]
        until = Deadline(deadline, clock)
        for count, row in enumerate(result.rows):
            if count % DEADLINE_EVERY == DEADLINE_EVERY - 1:
                until.check(f"converting row {count + 1} of {len(result.rows)}")
            if required and any(row[i] is None for i in required):
                continue
            values = list(template)
            for pos, i in zip(order, label_index, strict=True):
                raw = row[i] if i >= 0 else None
                values[pos] = null_label if raw is None else to_label(raw)
            # one tuple of label values per row, shared by the row's series
            labels = tuple(values)
            hidden: set[str] = set()
            for flag, names in hidden_by:
                if not row[flag]:
                    hidden |= names
            for i, name, convert, add in plan:
                if hidden and name in hidden:
                    continue
                try:
                    value = convert(row[i])
                except ConversionError as err:
                    self._skip(result.columns[i], err)
                    continue
                if value is not None:
                    add(labels, value)
            for col, fam in hist_plan:
                try:
                    _histogram(fam, col, row, index, labels)
                except ConversionError as err:
                    self._skip(col.name, err)
        return [fam for fam in self.families.values()
                if (fam.has_samples() if isinstance(fam, ExactFamily) else fam.samples)]

    def _skip(self, column: str, err: ConversionError) -> None:
        self.problems += 1
        if self.problems <= 3:
            self.logger.info("value not exported", extra={
                "namespace": self.spec.prefix, "column": column, "err": str(err)})


def _hist_shape(spec: MetricMap, col: ColumnMap) -> tuple[str, str, str]:
    name, kind = col.family(spec.prefix) or ("", "")
    return name, kind, col.description


def _histogram(
    fam: Metric, col: ColumnMap, row: Sequence[Any], index: Mapping[str, int], labels: Sequence[str]
) -> None:
    missing = [col.name + s for s in ("", *HISTOGRAM_SUFFIXES) if col.name + s not in index]
    if missing:
        raise ConversionError(f"histogram {col.name} lacks column(s) {', '.join(missing)}")
    bounds = to_float_list(row[index[col.name]])
    counts = to_float_list(row[index[col.name + "_bucket"]])
    total = to_float(row[index[col.name + "_sum"]]) if row[index[col.name + "_sum"]] is not None else 0.0
    count = to_float(row[index[col.name + "_count"]]) if row[index[col.name + "_count"]] is not None else 0.0
    assert isinstance(fam, HistogramFamily)
    # as Go's MustNewConstHistogram: a repeated bound keeps the last count, +Inf is the count
    fam.add_metric(labels, count, total, dict(zip(bounds, counts, strict=False)))


class Collector(Protocol):
    """A postgres collector: the statements it needs, then its families from their results."""

    name: str

    def statements(self, server: Server) -> list[Statement]: ...

    def collect(self, results: Sequence[Result], server: Server) -> Iterable[Metric]: ...


class NoDataError(Exception):
    """Not a failure: the collector's source does not exist on this server."""


@lru_cache(maxsize=256)
def _range(text: str) -> VersionRange:
    return parse_range(text)


def pick_query(queries: Sequence[tuple[str, str]], version: Version) -> str | None:
    """The first query whose version range holds ``version``."""
    for versions, text in queries:
        if _range(versions)(version):
            return text
    return None


class QueryCollector:
    """A collector that is one query and a ``MetricMap``: most of them.

    ``queries`` holds (version range, SQL) rows; the first match is run, and no match means
    the collector has no data on that server. ``read_only`` statements run with
    ``default_transaction_read_only`` on (the built-ins); a queries file's do not.
    """

    name = ""
    queries: tuple[tuple[str, str], ...] = ()
    metrics: MetricMap = MetricMap("", {})
    read_only = True

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("exporters.postgres")

    def params(self) -> tuple[str | None, ...]:
        return ()

    def statements(self, server: Server) -> list[Statement]:
        query = pick_query(self.queries, server.version)
        if query is None:
            return []
        return [Statement(query, self.params(), self.read_only)]

    def collect(self, results: Sequence[Result], server: Server) -> Iterable[Metric]:
        if not results:
            raise NoDataError("not available on this PostgreSQL version")
        result = results[0]
        if not result.ok:
            raise QueryFailed(result.error)
        return self.metrics.build(result, server.version, server.labels, self.logger, server.deadline)


class QueryFailed(Exception):
    """A collector's statement failed on the server (the message is the server's, redacted)."""
