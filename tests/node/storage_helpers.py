"""Helpers for the storage collector tests: build a context on a temporary tree, read samples."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client.metrics_core import Metric

from exporters.node.context import NodeContext
from exporters.node.main import build_parser, collector_specs

Key = tuple[str, tuple[tuple[str, str], ...]]


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Create ``files`` (relative path -> content) under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def context(root: Path, *flags: str) -> NodeContext:
    """A context whose proc/, sys/, root/ and udev/ live under ``root``, with parsed ``flags``."""
    args: argparse.Namespace = build_parser(collector_specs()).parse_args(list(flags))
    return NodeContext(
        procfs=str(root / "proc"), sysfs=str(root / "sys"), rootfs=str(root / "root"),
        udev_data=str(root / "udev"), args=args,
    )


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
