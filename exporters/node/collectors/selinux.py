"""selinux: ``node_selinux_enabled``, and when enabled ``node_selinux_config_mode`` and
``node_selinux_current_mode`` (1 enforcing, 0 permissive, -1 disabled or unknown).

Upstream asks the go-selinux library, which looks at the running host's selinuxfs, the
exporter's own security context and /etc/selinux/config. Here the same files are read
through the path flags: ``<sysfs>/fs/selinux``, ``<procfs>/self/attr/current`` and
``<rootfs>/etc/selinux/config``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.context import NodeContext

NAME = "selinux"
# /etc/selinux/config SELINUX= value -> mode (anything else: -1, disabled).
CONFIG_MODES = {"enforcing": 1, "permissive": 0}


class SELinuxState(NamedTuple):
    enabled: bool
    config_mode: int = -1
    current_mode: int = -1


def parse_selinux_config(text: str) -> int:
    """The ``SELINUX=`` mode of /etc/selinux/config; -1 when absent or ``disabled``."""
    mode = -1
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if key.strip() == "SELINUX":
            mode = CONFIG_MODES.get(value.strip().strip("\"'"), -1)
    return mode


def parse_enforce(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return -1


def read_selinux(context: NodeContext) -> SELinuxState:
    selinuxfs = context.sys("fs/selinux")
    if not os.path.isfile(os.path.join(selinuxfs, "enforce")):
        return SELinuxState(enabled=False)
    try:
        label = read_text(context.proc("self/attr/current")).rstrip("\0\n")
    except OSError:
        return SELinuxState(enabled=False)
    if label in ("", "kernel"):
        return SELinuxState(enabled=False)
    try:
        config = parse_selinux_config(read_text(context.root("etc/selinux/config")))
    except OSError:
        config = -1
    try:
        current = parse_enforce(read_text(os.path.join(selinuxfs, "enforce")))
    except OSError:
        current = -1
    return SELinuxState(True, config, current)


class SelinuxCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        state = read_selinux(self.context)
        yield GaugeFamily("node_selinux_enabled", "SELinux is enabled, 1 is true, 0 is false",
                                value=1.0 if state.enabled else 0.0)
        if state.enabled:
            yield GaugeFamily("node_selinux_config_mode", "Configured SELinux enforcement mode",
                                    value=float(state.config_mode))
            yield GaugeFamily("node_selinux_current_mode", "Current SELinux enforcement mode",
                                    value=float(state.current_mode))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=SelinuxCollector, enabled_by_default=True, help="Exposes SELinux statistics.",
    source="/sys/fs/selinux, /proc/self/attr/current, /etc/selinux/config",
)
