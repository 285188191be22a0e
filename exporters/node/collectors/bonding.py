"""bonding: bonding masters and their slaves, ``node_bonding_slaves`` / ``node_bonding_active``.

Read from /sys/class/net/bonding_masters, ``<master>/bonding/slaves`` and each slave's
``bonding_slave/mii_status`` (under ``lower_<slave>``, or ``slave_<slave>`` before 4.x).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "bonding"


def count_slaves(mii_statuses: list[str]) -> tuple[int, int]:
    """(configured, active): a slave is active when its mii_status reads ``up``."""
    return len(mii_statuses), sum(1 for s in mii_statuses if s.strip() == "up")


class BondingCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def _read(self, *parts: str) -> str:
        return read_text(self.context.sys("class", "net", *parts), errors="surrogateescape")

    def read_stats(self) -> dict[str, tuple[int, int]]:
        masters = self._read("bonding_masters").split()
        status = {}
        for master in masters:
            statuses = []
            for slave in self._read(master, "bonding", "slaves").split():
                try:
                    state = self._read(master, f"lower_{slave}", "bonding_slave", "mii_status")
                except FileNotFoundError:
                    state = self._read(master, f"slave_{slave}", "bonding_slave", "mii_status")
                statuses.append(state)
            status[master] = count_slaves(statuses)
        return status

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        try:
            stats = self.read_stats()
        except FileNotFoundError as err:
            # Upstream treats any missing file of the bonding tree as "no bonding here".
            raise NoDataError(f"not collecting bonding, file does not exist: {err.filename}") from err
        slaves = GaugeFamily("node_bonding_slaves", "Number of configured slaves per bonding interface.",
                                   labels=["master"])
        active = GaugeFamily("node_bonding_active", "Number of active slaves per bonding interface.",
                                   labels=["master"])
        for master, (configured, up) in sorted(stats.items()):
            slaves.add_metric([master], float(configured))
            active.add_metric([master], float(up))
        return [slaves, active]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=BondingCollector, enabled_by_default=True,
    help="Exposes the number of configured and active slaves of Linux bonding interfaces.",
    source="/sys/class/net/bonding_masters, /sys/class/net/<master>/bonding/slaves, "
    "/sys/class/net/<slave>/bonding_slave/mii_status",
)
