"""netdev: network interface counters, ``node_network_*_total{device}``.

Sources: with ``--collector.netdev.netlink`` (the default, as upstream) the counters of
``rtnl_link_stats64`` are read from ``/sys/class/net/<dev>/statistics/`` (the same
kernel structure netlink's ``IFLA_STATS64`` carries, so the same family set, including
``receive_nohandler``); with ``--no-collector.netdev.netlink`` from ``/proc/net/dev``.
Without ``--collector.netdev.enable-detailed-metrics`` the detailed error counters are
folded into the legacy ``/proc/net/dev`` names exactly as the kernel folds them
(net/core/net-procfs.c).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import FamilySet, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import read_text
from exporters.node.collectors._flags import DeviceFilter, device_filter, with_deprecated_alias
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._rtnl import Link, read_links
from exporters.node.context import NodeContext

if TYPE_CHECKING:  # macOS and FreeBSD only: imported by build_portable
    from exporters.node.psutil_backend import PsutilNetdevCollector

LOGGER = logging.getLogger("exporters.node")
NAME = "netdev"

# /proc/net/dev columns after "iface:", in order, and their upstream keys.
PROC_NET_DEV_KEYS = (
    "receive_bytes", "receive_packets", "receive_errors", "receive_dropped", "receive_fifo",
    "receive_frame", "receive_compressed", "receive_multicast",
    "transmit_bytes", "transmit_packets", "transmit_errors", "transmit_dropped", "transmit_fifo",
    "transmit_colls", "transmit_carrier", "transmit_compressed",
)

# rtnl_link_stats64 field (sysfs statistics file) -> upstream key (netdev_linux.go).
LINK_STATS_KEYS = {
    "rx_packets": "receive_packets",
    "tx_packets": "transmit_packets",
    "rx_bytes": "receive_bytes",
    "tx_bytes": "transmit_bytes",
    "rx_errors": "receive_errors",
    "tx_errors": "transmit_errors",
    "rx_dropped": "receive_dropped",
    "tx_dropped": "transmit_dropped",
    "multicast": "multicast",
    "collisions": "collisions",
    "rx_length_errors": "receive_length_errors",
    "rx_over_errors": "receive_over_errors",
    "rx_crc_errors": "receive_crc_errors",
    "rx_frame_errors": "receive_frame_errors",
    "rx_fifo_errors": "receive_fifo_errors",
    "rx_missed_errors": "receive_missed_errors",
    "tx_aborted_errors": "transmit_aborted_errors",
    "tx_carrier_errors": "transmit_carrier_errors",
    "tx_fifo_errors": "transmit_fifo_errors",
    "tx_heartbeat_errors": "transmit_heartbeat_errors",
    "tx_window_errors": "transmit_window_errors",
    "rx_compressed": "receive_compressed",
    "tx_compressed": "transmit_compressed",
    "rx_nohandler": "receive_nohandler",
}

# Legacy names: (detailed key, legacy key, keys folded into it), applied in this order
# as upstream's legacy() does (the kernel's /proc/net/dev folding).
LEGACY_FOLDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("receive_errors", "receive_errs", ()),
    ("receive_dropped", "receive_drop", ("receive_missed_errors",)),
    ("receive_fifo_errors", "receive_fifo", ()),
    ("receive_frame_errors", "receive_frame",
     ("receive_length_errors", "receive_over_errors", "receive_crc_errors")),
    ("multicast", "receive_multicast", ()),
    ("transmit_errors", "transmit_errs", ()),
    ("transmit_dropped", "transmit_drop", ()),
    ("transmit_fifo_errors", "transmit_fifo", ()),
    ("collisions", "transmit_colls", ()),
    ("transmit_carrier_errors", "transmit_carrier",
     ("transmit_aborted_errors", "transmit_heartbeat_errors", "transmit_window_errors")),
)

DeviceStats = dict[str, dict[str, int]]


def stat_help(key: str) -> str:
    return f"Network device statistic {key}."


def parse_proc_net_dev(text: str) -> DeviceStats:
    """Parse /proc/net/dev (two header lines, then ``name: 16 counters``)."""
    stats: DeviceStats = {}
    for number, line in enumerate(text.splitlines()):
        if number < 2:
            continue
        name, colon, rest = line.rpartition(":")
        if not colon:
            raise ValueError(f"invalid net/dev line, missing colon: {line!r}")
        name = name.strip()
        if not name:
            raise ValueError(f"invalid net/dev line, empty interface name: {line!r}")
        fields = rest.split()
        if len(fields) < len(PROC_NET_DEV_KEYS):
            raise ValueError(f"invalid net/dev line, {len(fields)} fields: {line!r}")
        values = {}
        for key, field in zip(PROC_NET_DEV_KEYS, fields, strict=False):
            if not field.isdigit():
                raise ValueError(f"invalid net/dev counter {field!r} for {name}")
            values[key] = int(field)
        stats[name] = values
    return stats


def parse_link_stats(files: dict[str, str]) -> dict[str, int]:
    """Map the contents of a ``statistics/`` directory (file -> text) to upstream keys.

    A counter the kernel does not have (``rx_nohandler`` before 4.6) reads as 0, as
    netlink reports it.
    """
    values = {}
    for filename, key in LINK_STATS_KEYS.items():
        raw = files.get(filename, "0").strip()
        values[key] = int(raw) if raw.isdigit() else 0
    return values


def legacy(stats: dict[str, int]) -> dict[str, int]:
    """Fold detailed keys into the legacy names; keys absent stay absent (upstream's pop)."""
    out = dict(stats)
    for detailed, legacy_key, folded in LEGACY_FOLDS:
        if detailed in out:
            value = out.pop(detailed)
            for extra in folded:
                value += out.pop(extra, 0)
            out[legacy_key] = value
    return out


def link_device_stats(links: list[Link]) -> DeviceStats:
    """Upstream keys of each link's rtnl_link_stats64 (links without statistics are left out)."""
    return {link.name: {LINK_STATS_KEYS[f]: v for f, v in link.stats.items()}
            for link in links if link.stats is not None}


def served_keys(context: NodeContext) -> set[str]:
    """The ``node_network_<key>_total`` keys this collector serves with the context's flags
    (none when it is not enabled): what netclass's ``with-stats`` leaves to it."""
    if NAME not in context.enabled:
        return set()
    options = context.options(NetdevOptions)
    keys = dict.fromkeys(LINK_STATS_KEYS.values() if options.netlink else PROC_NET_DEV_KEYS, 0)
    return set(keys if options.detailed else legacy(keys))


class AddressInfo(NamedTuple):
    device: str
    address: str
    netmask: str
    scope: str


def address_scope(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Go's scope() in netdev_common.go, from net.IP's classification methods."""
    if address.is_loopback or address.is_link_local or _link_local_multicast(address):
        return "link-local"
    if isinstance(address, ipaddress.IPv6Address) and address.is_multicast and (address.packed[1] & 0x0F) == 1:
        return "interface-local"
    if _global_unicast(address):
        return "global"
    return ""


def _link_local_multicast(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return address in ipaddress.IPv4Network("224.0.0.0/24")
    return address.is_multicast and (address.packed[1] & 0x0F) == 2


def _global_unicast(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_unspecified or address.is_loopback or address.is_multicast or address.is_link_local:
        return False
    return not (isinstance(address, ipaddress.IPv4Address) and int(address) == 0xFFFFFFFF)


def _prefix_length(mask: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    """Leading one bits of a netmask; a non-canonical mask is refused (Go cannot print it as CIDR)."""
    bits = mask.max_prefixlen
    value = int(mask)
    ones = bits - (((~value) & ((1 << bits) - 1)).bit_length())
    if value != ((1 << bits) - 1) ^ ((1 << (bits - ones)) - 1):
        raise ValueError(f"non-canonical netmask {mask}")
    return ones


def parse_addresses(raw: dict[str, list[tuple[int, str, str | None]]]) -> list[AddressInfo]:
    """Turn (family, address, netmask) per interface into upstream's address-info rows."""
    rows = []
    for device, entries in raw.items():
        for family, address, netmask in entries:
            if family not in (socket.AF_INET, socket.AF_INET6) or not netmask:
                continue
            try:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
                prefix = _prefix_length(ipaddress.ip_address(netmask))
            except ValueError:
                continue
            shown = str(ip.ipv4_mapped) if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else str(ip)
            rows.append(AddressInfo(device, shown, str(prefix), address_scope(ip)))
    return rows


class NetdevCollector:
    def __init__(
        self,
        context: NodeContext,
        filter_: DeviceFilter,
        netlink: bool = True,
        detailed: bool = False,
        address_info: bool = False,
    ) -> None:
        self.context = context
        self.filter = filter_
        self.netlink = netlink
        self.detailed = detailed
        self.address_info = address_info

    def read_proc_net_dev(self) -> str:
        return read_text(self.context.proc("net", "dev"), errors="surrogateescape")

    def read_link_stats(self, device: str) -> dict[str, str] | None:
        """The files of /sys/class/net/<device>/statistics, or None when it is absent."""
        directory = self.context.sys("class", "net", device, "statistics")
        try:
            names = os.listdir(directory)
        except OSError:
            return None
        files = {}
        for name in names:
            if name not in LINK_STATS_KEYS:
                continue
            try:
                files[name] = read_text(os.path.join(directory, name))
            except OSError:
                continue
        return files

    def read_addresses(self) -> dict[str, list[tuple[int, str, str | None]]]:
        """Addresses of this network namespace's interfaces (upstream asks netlink, as psutil does)."""
        import psutil  # only with --collector.netdev.address-info

        return {
            device: [(int(a.family), a.address, a.netmask) for a in addrs]
            for device, addrs in psutil.net_if_addrs().items()
        }

    def live_host(self) -> bool:
        """Whether the path flags name this host's own /proc and /sys, which netlink describes."""
        return (os.path.realpath(self.context.procfs) == "/proc"
                and os.path.realpath(self.context.sysfs) == "/sys")

    def device_stats(self) -> DeviceStats:
        if self.netlink and self.live_host():
            # upstream's default: one rtnetlink dump rather than a file per counter
            try:
                links = link_device_stats(read_links())
            except (OSError, ValueError) as err:
                LOGGER.debug("rtnetlink failed, reading sysfs", extra={"collector": NAME, "err": str(err)})
            else:
                return {device: values for device, values in links.items() if not self.filter.ignored(device)}
        proc_stats = parse_proc_net_dev(self.read_proc_net_dev())
        stats: DeviceStats = {}
        for device, values in proc_stats.items():
            if self.filter.ignored(device):
                continue
            if not self.netlink:
                stats[device] = values
                continue
            files = self.read_link_stats(device)
            stats[device] = parse_link_stats(files) if files else _netlink_keys_from_proc(values)
        return stats

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        families = FamilySet()
        for device, values in sorted(self.device_stats().items()):
            if not self.detailed:
                values = legacy(values)
            for key, value in values.items():
                families.counter(f"node_network_{key}", stat_help(key), ["device"]).add_metric([device], float(value))
        yield from families.families()
        if self.address_info:
            info = GaugeFamily(
                "node_network_address_info", "node network address by device",
                labels=["device", "address", "netmask", "scope"],
            )
            for row in parse_addresses(self.read_addresses()):
                info.add_metric([row.device, row.address, row.netmask, row.scope], 1.0)
            yield info


def _netlink_keys_from_proc(values: dict[str, int]) -> dict[str, int]:
    """Netlink-style keys when sysfs has no statistics directory.

    /proc/net/dev only has the kernel's folded counters, so the detailed error keys carry
    the folded sums and the missed/length/over/crc/aborted/heartbeat/window keys are absent.
    """
    return {
        "receive_packets": values["receive_packets"],
        "transmit_packets": values["transmit_packets"],
        "receive_bytes": values["receive_bytes"],
        "transmit_bytes": values["transmit_bytes"],
        "receive_errors": values["receive_errors"],
        "transmit_errors": values["transmit_errors"],
        "receive_dropped": values["receive_dropped"],
        "transmit_dropped": values["transmit_dropped"],
        "multicast": values["receive_multicast"],
        "collisions": values["transmit_colls"],
        "receive_frame_errors": values["receive_frame"],
        "receive_fifo_errors": values["receive_fifo"],
        "transmit_carrier_errors": values["transmit_carrier"],
        "transmit_fifo_errors": values["transmit_fifo"],
        "receive_compressed": values["receive_compressed"],
        "transmit_compressed": values["transmit_compressed"],
        "receive_nohandler": 0,
    }


@dataclass(frozen=True)
class NetdevOptions:
    """The netdev collector's flags (``--collector.netdev.*``)."""

    device_include: str = option("--collector.netdev.device-include", "",
                                 "Regexp of net devices to include (mutually exclusive to device-exclude).")
    device_whitelist: str = option("--collector.netdev.device-whitelist", "",
                                   "DEPRECATED: Use collector.netdev.device-include", hidden=True)
    device_exclude: str = option("--collector.netdev.device-exclude", "",
                                 "Regexp of net devices to exclude (mutually exclusive to device-include).")
    device_blacklist: str = option("--collector.netdev.device-blacklist", "",
                                   "DEPRECATED: Use collector.netdev.device-exclude", hidden=True)
    address_info: bool = option("--collector.netdev.address-info", False, "Collect address-info for every device")
    detailed: bool = option("--collector.netdev.enable-detailed-metrics", False,
                            "Use (incompatible) metric names that provide more detailed stats on Linux")
    netlink: bool = option("--collector.netdev.netlink", True, "Use netlink to gather stats instead of /proc/net/dev.")


def device_filter_from_flags(context: NodeContext) -> DeviceFilter:
    """``--collector.netdev.device-include/-exclude`` (and the deprecated whitelist/blacklist)."""
    options = context.options(NetdevOptions)
    include = with_deprecated_alias(
        options.device_include or None, options.device_whitelist,
        "--collector.netdev.device-include", "--collector.netdev.device-whitelist", "", NAME,
    )
    exclude = with_deprecated_alias(
        options.device_exclude or None, options.device_blacklist,
        "--collector.netdev.device-exclude", "--collector.netdev.device-blacklist", "", NAME,
    )
    return device_filter(exclude, include, "--collector.netdev", announce=NAME)


def build(context: NodeContext) -> NetdevCollector:
    options = context.options(NetdevOptions)
    return NetdevCollector(context, device_filter_from_flags(context), netlink=options.netlink,
                           detailed=options.detailed, address_info=options.address_info)


def build_portable(context: NodeContext) -> PsutilNetdevCollector:
    from exporters.node.psutil_backend import PsutilNetdevCollector

    return PsutilNetdevCollector(devices=device_filter_from_flags(context))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, portable=build_portable, enabled_by_default=True,
    help="Exposes network interface statistics such as bytes transferred.", options=NetdevOptions,
    source="/sys/class/net/<iface>/statistics/ (rtnl_link_stats64); /proc/net/dev with --no-collector.netdev.netlink",
    families=(
        FamilyDoc("node_network_address_info", source="rtnetlink RTM_GETADDR (--collector.netdev.address-info)"),
        # the kernel's counters under their /proc/net/dev names, and with --collector.netdev.enable-detailed-metrics
        # under their own
        *(FamilyDoc(f"node_network_{key}_total", "counter", ("device",), stat_help(key))
          for key in sorted({*LINK_STATS_KEYS.values(), *(legacy for _, legacy, _ in LEGACY_FOLDS)})),
    ),
)
