"""Prometheus text (0.0.4) and OpenMetrics (1.0.0) rendering, as the Go exporters write them.

Written here rather than taken from prometheus_client because the Go exporters'
exposition differs from client_python's in ways users can see:

* family names are exact: a counter may lack ``_total`` (redis_exporter has several);
  the families collectors build carry no ``created`` time, so no ``*_created`` series;
* numbers are formatted as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` does
  (``1e+06``, not ``1000000.0``);
* families with the same name from several collectors are merged.

Under OpenMetrics a counter whose series name does not end in ``_total`` is written as
``unknown`` so that the series name Prometheus stores is the same under either format.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from exporters.core.gofloat import format_value
from exporters.core.metrics import Family, Metric, Row, Sample

__all__ = ["SeriesGuard", "format_value", "render_openmetrics", "render_text", "wants_openmetrics"]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_TEXT_TYPES = {"unknown": "untyped", "info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram"}


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    parts = []
    for key, value in labels.items():
        if "\\" in value or "\n" in value or '"' in value:
            value = _escape_label(value)
        parts.append(f'{key}="{value}"')
    return "{" + ",".join(parts) + "}"


def _write_rows(out: list[str], name: str, labelnames: tuple[str, ...], rows: list[Row]) -> bool:
    """A ``Family``'s rows: one prepared template per family; False if a value is not text."""
    append = out.append
    number = format_value
    if not labelnames:
        for _, value in rows:
            append(f"{name} {number(value)}\n")
        return True
    try:
        blob = "".join(["".join(values) for values, _ in rows])
    except TypeError:
        return False
    escape = "\\" in blob or "\n" in blob or '"' in blob
    # names are [a-zA-Z0-9_:] only; "{{" and "}}" are the label set's literal braces
    template = name + "{{" + ",".join(key + '="{}"' for key in labelnames) + "}} {}\n"
    fill = template.format
    for values, value in rows:
        if escape:
            values = tuple(_escape_label(v) for v in values)
        append(fill(*values, number(value)))
    return True


class SeriesGuard:
    """What one render may write: each series once (the first wins), at most ``max_series``.

    Go's client refuses a repeated series as a gathering error; the Go exporters then serve
    the rest. Here the repeat is dropped and reported per family, and a scrape beyond
    ``max_series`` series (0: no limit) is cut there, so one runaway source cannot make a
    response of unbounded size.
    """

    def __init__(self, max_series: int = 0) -> None:
        self.max_series = max_series
        self.written = 0
        self.duplicates: dict[str, int] = {}
        self.over_limit = 0

    def room(self, wanted: int) -> int:
        if self.max_series <= 0:
            return wanted
        allowed = max(0, min(wanted, self.max_series - self.written))
        self.over_limit += wanted - allowed
        return allowed

    def rows(self, family: str, rows: list[Row], seen: set[tuple[str, ...]]) -> list[Row]:
        keys = {row[0] for row in rows}
        if len(keys) == len(rows) and seen.isdisjoint(keys):  # the common case: no repeat, no copy
            seen |= keys
            return self._cut(rows)
        fresh = []
        for row in rows:
            if row[0] in seen:
                self.duplicates[family] = self.duplicates.get(family, 0) + 1
            else:
                seen.add(row[0])
                fresh.append(row)
        return self._cut(fresh)

    def _cut(self, rows: list[Row]) -> list[Row]:
        allowed = self.room(len(rows))
        self.written += allowed
        return rows if allowed == len(rows) else rows[:allowed]

    def samples(self, family: str, samples: list[Sample], seen: set[tuple[str, ...]]) -> list[Sample]:
        fresh = []
        for sample in samples:
            key = (sample.name, *(f"{k}\0{v}" for k, v in sorted(sample.labels.items())))
            if key in seen:
                self.duplicates[family] = self.duplicates.get(family, 0) + 1
            else:
                seen.add(key)
                fresh.append(sample)
        fresh = fresh[: self.room(len(fresh))]
        self.written += len(fresh)
        return fresh


def _write_samples(out: list[str], name: str, parts: list[Metric], guard: SeriesGuard | None) -> None:
    append = out.append
    labels_text = _labels
    number = format_value
    seen: set[tuple[str, ...]] = set()
    for part in parts:
        if isinstance(part, Family):
            rows = part.rows
            if rows is not None:
                if guard is not None:
                    rows = guard.rows(name, rows, seen)
                if _write_rows(out, part.sample_name, part.labelnames, rows):
                    continue
        samples = part.samples if guard is None else guard.samples(name, part.samples, seen)
        for sample in samples:
            labels = sample.labels
            append(f"{sample.name}{labels_text(labels) if labels else ''} {number(sample.value)}\n")


def family_name(metric: Metric) -> str:
    """The name a Go exporter gives the family in ``# HELP`` / ``# TYPE`` lines."""
    if metric.type != "counter":
        return metric.name
    if isinstance(metric, Family):
        if metric.has_samples():
            first = metric.sample_name
            if first != metric.name and first == metric.name + "_total":
                return first
        return metric.name
    if metric.samples:
        first = metric.samples[0].name
        if first != metric.name and first == metric.name + "_total":
            return first
    return metric.name


def merge_families(metrics: Iterable[Metric]) -> list[tuple[str, Metric, list[Metric]]]:
    """Group families by exposed name, keeping first-seen order; drop empty ones."""
    merged: dict[str, tuple[Metric, list[Metric]]] = {}
    for metric in metrics:
        if not (metric.has_samples() if isinstance(metric, Family) else metric.samples):
            continue
        name = family_name(metric)
        if name in merged:
            merged[name][1].append(metric)
        else:
            merged[name] = (metric, [metric])
    return [(name, first, parts) for name, (first, parts) in merged.items()]


@lru_cache(maxsize=16384)
def _header(name: str, typ: str, documentation: str) -> str:
    """A family's "# HELP" and "# TYPE" lines; the same families come back every scrape."""
    return f"# HELP {name} {_escape_help(documentation)}\n# TYPE {name} {typ}\n"


def render_text(metrics: Iterable[Metric], guard: SeriesGuard | None = None) -> bytes:
    """Prometheus text exposition format 0.0.4."""
    out: list[str] = []
    for name, first, parts in merge_families(metrics):
        header = len(out)
        out.append(_header(name, _TEXT_TYPES.get(first.type, first.type), first.documentation))
        _write_samples(out, name, parts, guard)
        if len(out) == header + 1:
            out.pop()  # every series of the family was cut by the guard
    return "".join(out).encode("utf-8")


def render_openmetrics(metrics: Iterable[Metric], guard: SeriesGuard | None = None) -> bytes:
    """OpenMetrics 1.0.0 text format."""
    out: list[str] = []
    for name, first, parts in merge_families(metrics):
        typ = first.type
        om_name = name
        if typ == "counter":
            if name.endswith("_total"):
                om_name = name[: -len("_total")]
            else:
                typ = "unknown"
        header = len(out)
        out.append(_header(om_name, typ, first.documentation))
        _write_samples(out, name, parts, guard)
        if len(out) == header + 1:
            out.pop()
    out.append("# EOF\n")
    return "".join(out).encode("utf-8")


def wants_openmetrics(accept: str | None) -> bool:
    """Whether the Accept header prefers OpenMetrics over the text format."""
    if not accept:
        return False
    best_om = -1.0
    best_text = -1.0
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            key, _, val = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        if media == "application/openmetrics-text":
            best_om = max(best_om, q)
        elif media in ("text/plain", "text/*", "*/*"):
            best_text = max(best_text, q)
    return best_om > 0 and best_om >= best_text
