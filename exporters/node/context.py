"""What every node collector is built from: the host paths, the enabled collectors and their options."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from exporters.node.collectors._files import HeldFiles, read_text, read_uint_file

T = TypeVar("T")

PSUTIL_SYSTEMS = ("darwin", "freebsd")
"""``sys.platform`` prefixes of the systems whose collectors read psutil (``exporters.node.psutil_backend``)."""


@dataclass(frozen=True)
class NodeContext:
    """Host paths (``--path.*`` flags), the enabled collectors and every collector's typed options.

    Every file a collector reads goes through ``proc()``, ``sys()``, ``root()`` or
    ``udev()``, so the exporter works with a host's /proc, /sys and / mounted elsewhere.
    """

    procfs: str = "/proc"
    sysfs: str = "/sys"
    rootfs: str = "/"
    udev_data: str = "/run/udev/data"
    enabled: frozenset[str] = frozenset()
    """The collectors switched on (a collector that defers to another asks here)."""
    collector_options: Mapping[type, Any] = field(default_factory=dict)
    """Options dataclass -> its instance from the command line (``exporters.core.options``)."""
    platform: str = sys.platform
    """``sys.platform`` of the system the collectors read (``exporters.node.psutil_backend``)."""

    files: HeldFiles | None = field(default=None, compare=False, repr=False)
    """With this host's own /proc and /sys: their files that every scrape reads, kept open."""

    def read_text(self, path: str, errors: str = "replace") -> str:
        """A /proc or /sys file's text (``_files.read_text``), through ``files`` when there is one."""
        return read_text(path, errors) if self.files is None else self.files.read_text(path, errors)

    def read_uint(self, path: str) -> int:
        """``_files.read_uint_file``, through ``files`` when there is one."""
        return read_uint_file(path) if self.files is None else self.files.read_uint(path)

    def proc(self, *parts: str) -> str:
        return os.path.join(self.procfs, *parts)

    def sys(self, *parts: str) -> str:
        return os.path.join(self.sysfs, *parts)

    def root(self, *parts: str) -> str:
        return os.path.join(self.rootfs, *[p.lstrip("/") for p in parts])

    def udev(self, *parts: str) -> str:
        return os.path.join(self.udev_data, *parts)

    def options(self, cls: type[T]) -> T:
        """The collector's typed options from the command line (the defaults when none were parsed)."""
        value = self.collector_options.get(cls)
        return value if isinstance(value, cls) else cls()
