"""Turning a namespace's query result into metric families.

The same engine serves upstream's built-in namespaces (``pg_stat_activity``,
``pg_stat_replication``...) and the queries file. Columns the mapping does not name are
exported as untyped ``<namespace>_<column>`` when their value is numeric, as upstream.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from exporters.core.flags import parse_duration
from exporters.core.metrics import ExactFamily, HistogramFamily, Metric, exact_counter, exact_gauge, exact_untyped
from exporters.postgres.connection import Result, Session
from exporters.postgres.queries import HISTOGRAM_SUFFIXES, ColumnMapping, Namespace
from exporters.postgres.values import ConversionError, to_float, to_float_list, to_label


class NamespaceError(Exception):
    """The namespace's query failed (the message names the namespace)."""


def _duration_ms(value: Any) -> float:
    """DURATION: Go duration text (``1h2m``) or an interval, in milliseconds; ``-1`` is unset."""
    if value is None:
        return math.nan
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        if text.strip() == "-1":
            return math.nan
        try:
            return parse_duration(text) * 1000.0
        except Exception:  # noqa: BLE001 - argparse's error type; reported as a conversion error
            raise ConversionError(f"{text[:40]!r} is not a duration") from None
    return to_float(value) * 1000.0


def _mapped(col: ColumnMapping, value: Any) -> float:
    key = to_label(value)
    assert col.mapping is not None
    if key not in col.mapping:
        raise ConversionError(f"value {key[:40]!r} is not in metric_mapping")
    return col.mapping[key]


class NamespaceCollector:
    """Runs namespaces on a session, with ``cache_seconds`` caching per server."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._cache: dict[tuple[str, str], tuple[float, list[Metric]]] = {}
        self._lock = threading.Lock()

    def collect(
        self,
        session: Session,
        ns: Namespace,
        const_labels: Mapping[str, str],
        server_key: str,
    ) -> list[Metric]:
        """The families of one namespace; raises ``NamespaceError`` if its query fails."""
        key = (server_key, ns.name)
        now = time.monotonic()
        if ns.cache_seconds > 0:
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None and now - cached[0] <= ns.cache_seconds:
                return cached[1]
        try:
            result = session.query(ns.query)
        except Exception as err:  # noqa: BLE001 - reported per namespace, the scrape goes on
            message = session.target.dsn.redact(" ".join(str(err).split()))
            raise NamespaceError(f"error running query of namespace {ns.name}: {message}") from None
        metrics = self.families(ns, result, session.version, const_labels)
        if ns.cache_seconds > 0:
            with self._lock:
                self._cache[key] = (now, metrics)
        return metrics

    def families(
        self,
        ns: Namespace,
        result: Result,
        version: tuple[int, int, int],
        const_labels: Mapping[str, str],
    ) -> list[Metric]:
        """Build families from a result (pure: no I/O)."""
        labels = ns.label_columns(version)
        label_names = sorted([*labels, *const_labels])
        index = {name: i for i, name in enumerate(result.columns)}
        skip = {c.name for c in ns.columns.values() if c.usage in ("DISCARD", "LABEL") or not c.supported(version)}
        for hist in ns.columns.values():
            if hist.usage == "HISTOGRAM" and hist.supported(version):
                skip.update(hist.name + s for s in HISTOGRAM_SUFFIXES)
        families: dict[str, Metric] = {}

        def family(name: str, kind: str, help_text: str) -> Metric:
            fam = families.get(name)
            if fam is None:
                fam = _new_family(name, kind, help_text, label_names)
                families[name] = fam
            return fam

        # per exported column, worked out once: (index, mapping, usage, family name, type, help)
        plan: list[tuple[int, ColumnMapping | None, str, str, str, str]] = []
        for i, column in enumerate(result.columns):
            if column in skip:
                continue
            col = ns.columns.get(column)
            if col is None:
                plan.append((i, None, "UNTYPED", f"{ns.name}_{column}", "untyped", f"Unknown metric from {ns.name}"))
            elif col.usage == "HISTOGRAM":
                plan.append((i, col, col.usage, f"{ns.name}_{column}", "histogram", col.description))
            elif col.usage == "DURATION":
                plan.append((i, col, col.usage, f"{ns.name}_{column}_milliseconds", "gauge", col.description))
            else:
                kind = "counter" if col.usage == "COUNTER" else "gauge"
                plan.append((i, col, col.usage, f"{ns.name}_{column}", kind, col.description))

        for row in result.rows:
            values = dict(const_labels)
            for label in labels:
                values[label] = to_label(row[index[label]]) if label in index else ""
            # one tuple of label values per row, shared by the row's series
            label_values = tuple(values[n] for n in label_names)
            for i, col, usage, name, kind, help_text in plan:
                try:
                    if usage == "HISTOGRAM":
                        assert col is not None
                        self._histogram(family(name, kind, help_text), ns, col, row, index, label_values)
                        continue
                    if usage == "DURATION":
                        value = _duration_ms(row[i])
                    elif usage == "MAPPEDMETRIC":
                        assert col is not None
                        value = _mapped(col, row[i])
                    else:
                        value = to_float(row[i])
                except ConversionError as err:
                    self.logger.info(
                        "unparseable column value, skipped",
                        extra={"namespace": ns.name, "column": result.columns[i], "err": str(err)},
                    )
                    continue
                fam = family(name, kind, help_text)
                assert isinstance(fam, ExactFamily)
                fam.add_metric(label_values, value)
        return list(families.values())

    def _histogram(
        self,
        fam: Metric,
        ns: Namespace,
        col: ColumnMapping,
        row: Sequence[Any],
        index: Mapping[str, int],
        label_values: Sequence[str],
    ) -> None:
        missing = [col.name + s for s in HISTOGRAM_SUFFIXES if col.name + s not in index]
        if missing:
            raise ConversionError(f"histogram {col.name} lacks column(s) {', '.join(missing)}")
        bounds = to_float_list(row[index[col.name]])
        counts = to_float_list(row[index[col.name + "_bucket"]])
        total = to_float(row[index[col.name + "_sum"]])
        count = to_float(row[index[col.name + "_count"]])
        assert isinstance(fam, HistogramFamily)
        fam.add_metric(label_values, count, total, zip(bounds, counts, strict=False))


def _new_family(name: str, kind: str, help_text: str, labels: list[str]) -> Metric:
    if kind == "histogram":
        return HistogramFamily(name, help_text, labels=labels)
    if kind == "counter":
        return exact_counter(name, help_text, labels)
    if kind == "gauge":
        return exact_gauge(name, help_text, labels)
    return exact_untyped(name, help_text, labels)
