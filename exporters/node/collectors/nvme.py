"""nvme: NVMe controller information from ``/sys/class/nvme/<device>/``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import list_dir, sys_read_file
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "nvme"
# sysfs attribute -> label, in the label order of node_nvme_info
ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("firmware_rev", "firmware_revision"),
    ("model", "model"),
    ("serial", "serial"),
    ("state", "state"),
)


def read_nvme_device(path: str) -> dict[str, str]:
    """The controller's attributes; any one missing is an error, as in node_exporter."""
    return {label: sys_read_file(os.path.join(path, attr)) for attr, label in ATTRIBUTES}


class NvmeCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        base = self.context.sys("class", "nvme")
        try:
            names = list_dir(base)
        except FileNotFoundError:
            LOGGER.debug("nvme statistics not found, skipping", extra={"collector": NAME})
            raise NoDataError("no /sys/class/nvme") from None
        info = GaugeFamily(
            "node_nvme_info", "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
            labels=["device", *(label for _, label in ATTRIBUTES)],
        )
        for name in names:
            attrs = read_nvme_device(os.path.join(base, name))
            info.add_metric([name, *(attrs[label] for _, label in ATTRIBUTES)], 1.0)
        return [info]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=NvmeCollector, enabled_by_default=True,
    help="Exposes NVMe info from /sys/class/nvme/.",
    source="/sys/class/nvme/<device>/",
)
