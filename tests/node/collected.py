"""Reading what a collector's collect() yielded, in the shapes the tests compare."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from exporters.core.collector import Collector
from exporters.core.metrics import Metric

Key = tuple[str, tuple[tuple[str, str], ...]]


def samples(metrics: Iterable[Metric]) -> dict[Key, float]:
    """Every sample as (name, sorted labels) -> value; a duplicate series fails the test."""
    out: dict[Key, float] = {}
    for metric in metrics:
        for s in metric.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def value(found: Mapping[Key, float], metric: str, /, **labels: str) -> float:
    return found[(metric, tuple(sorted(labels.items())))]


def names(found: Mapping[Key, float]) -> set[str]:
    return {name for name, _ in found}


def types(metrics: Iterable[Metric]) -> dict[str, str]:
    return {m.name: m.type for m in metrics}


def label_values(metrics: Sequence[Metric], name: str, label: str) -> list[str]:
    return [s.labels[label] for m in metrics for s in m.samples if s.name == name]


def collect_partial(collector: Collector) -> tuple[list[Metric], BaseException | None]:
    """What a collector yielded before it raised (the runner exports that), and the error."""
    got: list[Metric] = []
    try:
        for metric in collector.collect():
            got.append(metric)
    except Exception as err:  # noqa: BLE001 - the error is the result under test
        return got, err
    return got, None
