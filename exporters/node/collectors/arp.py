"""arp: ARP table entries per device, ``node_arp_entries{device}``, from /proc/net/arp.

Upstream v1.7.0 defaults to an rtnetlink neighbour dump (``--collector.arp.netlink``);
/proc/net/arp is the same table (IPv4 neighbours without NUD_NOARP) and honours
``--path.procfs``, so it is read in both modes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import read_text
from exporters.node.collectors._flags import DeviceFilter, device_filter
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "arp"
HEADER_WIDTH = 9
DATA_WIDTH = 6
_MAC_OCTETS = {6, 8, 20}


def _valid_mac(text: str) -> bool:
    """Go's ``net.ParseMAC`` for the colon form /proc/net/arp prints."""
    parts = text.split(":")
    return len(parts) in _MAC_OCTETS and all(
        len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts
    )


def parse_arp(text: str) -> Counter[str]:
    """Count entries per device (last column); the header line has 9 fields."""
    entries: Counter[str] = Counter()
    for line in text.split("\n"):
        columns = line.split()
        if len(columns) in (0, HEADER_WIDTH):
            continue
        if len(columns) != DATA_WIDTH:
            raise ValueError(f"{len(columns)} columns found, but expected {DATA_WIDTH}")
        if not _valid_mac(columns[3]):
            raise ValueError(f"invalid MAC address {columns[3]!r}")
        go_parse_uint(columns[2], 0, 8)
        entries[columns[5]] += 1
    return entries


class ArpCollector:
    def __init__(self, context: NodeContext, filter_: DeviceFilter) -> None:
        self.context = context
        self.filter = filter_

    def read(self) -> str:
        return read_text(self.context.proc("net", "arp"), errors="surrogateescape")

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        family = GaugeFamily("node_arp_entries", "ARP entries by device", labels=["device"])
        for device, count in sorted(parse_arp(self.read()).items()):
            if not self.filter.ignored(device):
                family.add_metric([device], float(count))
        return [family]


@dataclass(frozen=True)
class ArpOptions:
    """The arp collector's flags (``--collector.arp.*``)."""

    device_include: str = option("--collector.arp.device-include", "",
                                 "Regexp of arp devices to include (mutually exclusive to device-exclude).")
    device_exclude: str = option("--collector.arp.device-exclude", "",
                                 "Regexp of arp devices to exclude (mutually exclusive to device-include).")
    netlink: bool = option("--collector.arp.netlink", True, "Use netlink to gather stats instead of /proc/net/arp.")


def build(context: NodeContext) -> ArpCollector:
    options = context.options(ArpOptions)
    # Upstream does not reject both flags together for arp: both filters apply.
    return ArpCollector(context, device_filter(options.device_exclude, options.device_include, "--collector.arp",
                                               exclusive=False))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True, help="Exposes ARP statistics from /proc/net/arp.",
    options=ArpOptions,
    source="/proc/net/arp",
)
