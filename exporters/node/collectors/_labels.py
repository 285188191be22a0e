"""Metric names and label values built from host data, checked as client_golang checks them."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator

from exporters.core.metrics import Family, Metric, Row

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_INVALID_RUN = re.compile(r"_*[^0-9A-Za-z_]+_*")


def sanitize_metric_name(name: str) -> str:
    """node_exporter's SanitizeMetricName: runs of invalid characters (and adjacent _) -> "_"."""
    return _INVALID_RUN.sub("_", name)


def valid_metric_name(name: str) -> bool:
    """Prometheus' metric name rule; a name built from file contents may break it."""
    return _METRIC_NAME.fullmatch(name) is not None


def to_valid_utf8(text: str) -> str:
    """Go's ``strings.ToValidUTF8(s, "\uFFFD")`` for text decoded with surrogateescape.

    Each run of invalid bytes becomes one replacement character.
    """
    data = text.encode("utf-8", errors="surrogateescape")
    out: list[str] = []
    in_invalid_run = False
    while data:
        try:
            out.append(data.decode("utf-8"))
            break
        except UnicodeDecodeError as err:
            if err.start:
                out.append(data[: err.start].decode("utf-8"))
                in_invalid_run = False
            if not in_invalid_run:
                out.append("\ufffd")
                in_invalid_run = True
            data = data[err.end:]
    return "".join(out)


def _encodable(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _all_ascii(rows: list[Row]) -> bool:
    try:
        return "".join(["".join(values) for values, _ in rows]).isascii()
    except TypeError:  # a label value that is not text: the per-sample check decides
        return False


def without_invalid_utf8(metrics: Iterable[Metric], logger: logging.Logger, collector: str) -> Iterator[Metric]:
    """Drop samples whose label values hold bytes that are not UTF-8 (read with surrogateescape).

    client_golang refuses such a label value (node_exporter panics on it); dropping the one
    sample and logging it keeps the rest of the scrape.
    """
    for metric in metrics:
        rows = metric.rows if isinstance(metric, Family) else None
        if rows is not None and _all_ascii(rows):
            yield metric  # the common case, checked without building Sample objects
            continue
        kept = [s for s in metric.samples if all(_encodable(v) for v in s.labels.values())]
        if len(kept) != len(metric.samples):
            logger.warning("dropped samples with a label value that is not valid UTF-8",
                           extra={"collector": collector, "metric": metric.name})
            metric.samples = kept
        yield metric
