"""A fake host for collector tests: proc/, sys/, root/ and udev/ under a temporary directory."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Mapping
from pathlib import Path

from exporters.node.context import NodeContext
from exporters.node.main import build_parser, collector_specs, node_context


@functools.cache
def _parser() -> argparse.ArgumentParser:
    return build_parser(collector_specs())


def make_context(root: Path, *flags: str) -> NodeContext:
    """A context on ``root`` (proc/, sys/, root/, udev/), with command-line ``flags`` parsed by the exporter."""
    paths = []
    for sub, flag in (("proc", "procfs"), ("sys", "sysfs"), ("root", "rootfs"), ("udev", "udev.data")):
        (root / sub).mkdir(parents=True, exist_ok=True)
        paths.append(f"--path.{flag}={root / sub}")
    return node_context(_parser().parse_args([*paths, *flags]), collector_specs())


def write(root: Path, relative: str, text: str) -> Path:
    """One file under ``root``; parent directories are created."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Create ``files`` (relative path -> content) under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
