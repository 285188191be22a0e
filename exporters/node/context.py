"""What every node collector is built from: the host paths and the parsed flags."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import TypeVar

from exporters.core.options import options_from_args

T = TypeVar("T")


@dataclass(frozen=True)
class NodeContext:
    """Host paths (``--path.*`` flags) and the parsed command line.

    Every file a collector reads goes through ``proc()``, ``sys()``, ``root()`` or
    ``udev()``, so the exporter works with a host's /proc, /sys and / mounted elsewhere.
    """

    procfs: str = "/proc"
    sysfs: str = "/sys"
    rootfs: str = "/"
    udev_data: str = "/run/udev/data"
    args: argparse.Namespace = field(default_factory=argparse.Namespace)

    def proc(self, *parts: str) -> str:
        return os.path.join(self.procfs, *parts)

    def sys(self, *parts: str) -> str:
        return os.path.join(self.sysfs, *parts)

    def root(self, *parts: str) -> str:
        return os.path.join(self.rootfs, *[p.lstrip("/") for p in parts])

    def udev(self, *parts: str) -> str:
        return os.path.join(self.udev_data, *parts)

    def options(self, cls: type[T]) -> T:
        """The collector's typed options (``exporters.core.options``), from the command line."""
        return options_from_args(cls, self.args)

    def option(self, dest: str, default: object = None) -> object:
        """A collector option by its argparse ``dest``; ``default`` when not parsed."""
        return getattr(self.args, dest, default)
