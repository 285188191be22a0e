"""Test helpers for the node collectors: a context on a temporary tree, samples of a collect()."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from pathlib import Path

from prometheus_client.metrics_core import Metric

from exporters.core.collector import Collector
from exporters.node.context import NodeContext


def make_context(root: Path, **options: object) -> NodeContext:
    """A context whose proc/, sys/ and root/ are under ``root``, with collector options set."""
    for sub in ("proc", "sys", "root", "udev"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return NodeContext(
        procfs=str(root / "proc"), sysfs=str(root / "sys"), rootfs=str(root / "root"),
        udev_data=str(root / "udev"), args=argparse.Namespace(**options),
    )


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def samples(metrics: Iterable[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value."""
    out = {}
    for metric in metrics:
        for s in metric.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def types(metrics: Iterable[Metric]) -> dict[str, str]:
    return {m.name: m.type for m in metrics}


def collect_partial(collector: Collector) -> tuple[list[Metric], BaseException | None]:
    """What a collector yielded before it raised (the runner exports that), and the error."""
    got: list[Metric] = []
    try:
        for metric in collector.collect():
            got.append(metric)
    except Exception as err:  # noqa: BLE001 - the error is the result under test
        return got, err
    return got, None


def label_values(metrics: Sequence[Metric], name: str, label: str) -> list[str]:
    return [s.labels[label] for m in metrics for s in m.samples if s.name == name]
