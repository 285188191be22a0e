"""uname: ``node_uname_info{sysname,release,version,machine,nodename,domainname}`` from uname(2)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._libc import libc
from exporters.node.context import NodeContext

if TYPE_CHECKING:  # macOS and FreeBSD only: imported by build_portable
    from exporters.node.psutil_backend import PsutilUnameCollector

NAME = "uname"
LABELS = ("sysname", "release", "version", "machine", "nodename", "domainname")


UTS_LEN = 65  # Linux struct utsname: six char[65] fields (domainname is a GNU extension)


class _Utsname(ctypes.Structure):
    _fields_ = tuple((name, ctypes.c_char * UTS_LEN)
                     for name in ("sysname", "nodename", "release", "version", "machine", "domainname"))


def read_uname() -> dict[str, str]:
    """uname(2) through libc, for ``domainname``, which Python's os.uname() leaves out."""
    buf = _Utsname()
    if libc().uname(ctypes.byref(buf)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return {label: bytes(getattr(buf, label)).split(b"\0", 1)[0].decode("utf-8", "replace") for label in LABELS}


class UnameCollector:
    def __init__(self, context: NodeContext, reader: Callable[[], dict[str, str]] = read_uname) -> None:
        self.reader = reader

    def collect(self) -> Iterable[Metric]:
        values = self.reader()
        family = GaugeFamily("node_uname_info",
                                   "Labeled system information as provided by the uname system call.",
                                   labels=list(LABELS))
        family.add_metric([values[label] for label in LABELS], 1.0)
        yield family


def build_portable(context: NodeContext) -> PsutilUnameCollector:
    from exporters.node.psutil_backend import PsutilUnameCollector

    return PsutilUnameCollector()


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=UnameCollector, portable=build_portable, enabled_by_default=True,
    help="Exposes system information as provided by the uname system call.",
    source="uname(2)",
)
