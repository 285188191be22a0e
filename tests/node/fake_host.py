"""A fake host for collector tests: proc/, sys/, root/ and udev/ under a temporary directory."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from exporters.node.context import NodeContext
from exporters.node.main import build_parser, collector_specs


def _context(root: Path, args: argparse.Namespace) -> NodeContext:
    for sub in ("proc", "sys", "root", "udev"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return NodeContext(
        procfs=str(root / "proc"), sysfs=str(root / "sys"), rootfs=str(root / "root"),
        udev_data=str(root / "udev"), args=args,
    )


def make_context(root: Path, **options: object) -> NodeContext:
    """A context on ``root`` with collector options given by their argparse ``dest``."""
    return _context(root, argparse.Namespace(**options))


def context(root: Path, *flags: str) -> NodeContext:
    """A context on ``root`` with command-line ``flags`` parsed by the exporter's parser."""
    return _context(root, build_parser(collector_specs()).parse_args(list(flags)))


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
