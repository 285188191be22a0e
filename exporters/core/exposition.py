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

import math
from collections.abc import Iterable

from prometheus_client.metrics_core import Metric

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_TEXT_TYPES = {"unknown": "untyped", "info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram"}


def format_value(value: float) -> str:
    """Format a float as Go's ``strconv.FormatFloat(value, 'g', -1, 64)``."""
    value = float(value)
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value.is_integer() and -1e6 < value < 1e6:
        return str(int(value))  # Go writes any zero, -0 included, as "0"
    text = repr(value)
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text) if exp_text else 0
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    # decimal point position relative to the first significant digit
    point = len(whole) + exponent if whole.strip("0") else exponent - (len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    exp10 = point - 1
    sign = "-" if negative else ""
    if exp10 < -4 or exp10 >= 6:
        # %e form: d[.ddd]e±XX
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        esign = "-" if exp10 < 0 else "+"
        return f"{sign}{body}e{esign}{abs(exp10):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * (-point)}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items()) + "}"


def family_name(metric: Metric) -> str:
    """The name a Go exporter gives the family in ``# HELP`` / ``# TYPE`` lines."""
    if metric.type == "counter" and metric.samples:
        first = metric.samples[0].name
        if first != metric.name and first == metric.name + "_total":
            return first
    return metric.name


def merge_families(metrics: Iterable[Metric]) -> list[tuple[str, Metric, list[Metric]]]:
    """Group families by exposed name, keeping first-seen order; drop empty ones."""
    merged: dict[str, tuple[Metric, list[Metric]]] = {}
    for metric in metrics:
        if not metric.samples:
            continue
        name = family_name(metric)
        if name in merged:
            merged[name][1].append(metric)
        else:
            merged[name] = (metric, [metric])
    return [(name, first, parts) for name, (first, parts) in merged.items()]


def render_text(metrics: Iterable[Metric]) -> bytes:
    """Prometheus text exposition format 0.0.4."""
    out: list[str] = []
    for name, first, parts in merge_families(metrics):
        out.append(f"# HELP {name} {_escape_help(first.documentation)}\n")
        out.append(f"# TYPE {name} {_TEXT_TYPES.get(first.type, first.type)}\n")
        for part in parts:
            for sample in part.samples:
                out.append(f"{sample.name}{_labels(sample.labels)} {format_value(sample.value)}\n")
    return "".join(out).encode("utf-8")


def render_openmetrics(metrics: Iterable[Metric]) -> bytes:
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
        out.append(f"# HELP {om_name} {_escape_help(first.documentation)}\n")
        out.append(f"# TYPE {om_name} {typ}\n")
        for part in parts:
            for sample in part.samples:
                out.append(f"{sample.name}{_labels(sample.labels)} {format_value(sample.value)}\n")
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
