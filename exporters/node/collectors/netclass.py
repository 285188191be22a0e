"""netclass: /sys/class/net/<iface> attributes, ``node_network_*{device}``.

Every regular file of the interface directory is read once (procfs' ``NetClassByIface``);
attributes the kernel refuses (EINVAL on ``speed`` of a down link, EOPNOTSUPP, EACCES,
ENOENT) are skipped, a number that does not parse reads as 0 (procfs ``PInt64``).
``speed`` is in Mbit/s and exported as bytes/s, ``-1`` (unknown) included unless
``--collector.netclass.ignore-invalid-speed``.

``--collector.netclass.netlink`` selects upstream's rtnetlink variant: the links of an
RTM_GETLINK dump (flags as ``dev_get_flags()`` reports them, carrier of down links too),
duplex and speed from ethtool's netlink LINKMODES dump, and three attributes
(``addr_assign_type``, ``dev_id``, ``name_assign_type``) from sysfs. Its quirks are kept:
``dormant`` is the link mode, ``iface_link`` is IFLA_LINK or else the index, an unknown
speed (SPEED_UNKNOWN, 2^32-1 Mbit/s) is exported as it reads. With
``--collector.netclass_rtnl.with-stats`` each link's rtnl_link_stats64 counters are
gauges, except the families the netdev collector serves when it is enabled: those are
left to it (upstream's registry keeps netdev's counters and drops these).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import FamilySet, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors import netdev
from exporters.node.collectors._files import HeldFiles, read_attribute_files, regular_files, sys_read_file
from exporters.node.collectors._flags import compile_go_regex
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._netlink import attribute_map, encode_attribute, genl_family, genl_request, text, uint
from exporters.node.collectors._rtnl import OPERSTATES, Link, hardware_address, read_links
from exporters.node.collectors._strconv import procfs_pint64
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "netclass"

# At most this many attribute files are held open (about 10 links' worth): they count against
# RLIMIT_NOFILE beside the connections the server accepts. The links past it are read as before.
HELD_FILES = 256

# Errors procfs' canIgnoreError() skips: the attribute is just not there for this device.
IGNORED_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EOPNOTSUPP, errno.EINVAL}

# sysfs attribute -> kept as text (True) or parsed as an integer (False).
ATTRIBUTES = {
    "addr_assign_type": False, "addr_len": False, "address": True, "broadcast": True,
    "carrier": False, "carrier_changes": False, "carrier_up_count": False, "carrier_down_count": False,
    "dev_id": False, "dormant": False, "duplex": True, "flags": False, "ifalias": True,
    "ifindex": False, "iflink": False, "link_mode": False, "mtu": False, "name_assign_type": False,
    "netdev_group": False, "operstate": True, "phys_port_id": True, "phys_port_name": True,
    "phys_switch_id": True, "speed": False, "tx_queue_len": False, "type": False,
}

# (metric suffix, attribute, counter?) in upstream's emission order (sysfs variant).
SYSFS_METRICS: tuple[tuple[str, str, bool], ...] = (
    ("address_assign_type", "addr_assign_type", False),
    ("carrier", "carrier", False),
    ("carrier_changes_total", "carrier_changes", True),
    ("carrier_up_changes_total", "carrier_up_count", True),
    ("carrier_down_changes_total", "carrier_down_count", True),
    ("device_id", "dev_id", False),
    ("dormant", "dormant", False),
    ("flags", "flags", False),
    ("iface_id", "ifindex", False),
    ("iface_link", "iflink", False),
    ("iface_link_mode", "link_mode", False),
    ("mtu_bytes", "mtu", False),
    ("name_assign_type", "name_assign_type", False),
    ("net_dev_group", "netdev_group", False),
    ("transmit_queue_length", "tx_queue_len", False),
    ("protocol_type", "type", False),
)

# The rtnetlink variant (netclass_rtnl_linux.go): metric suffix -> (Link field, counter?),
# in upstream's order; a field the kernel did not send (None) is not exported.
RTNL_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("carrier", "carrier", False),
    ("carrier_changes_total", "carrier_changes", True),
    ("carrier_up_changes_total", "carrier_up_count", True),
    ("carrier_down_changes_total", "carrier_down_count", True),
    ("flags", "flags", False),
    ("iface_id", "index", False),
    ("iface_link_mode", "linkmode", False),
    ("dormant", "linkmode", False),  # upstream reports the link mode here
    ("mtu_bytes", "mtu", False),
    ("net_dev_group", "group", False),
    ("transmit_queue_length", "txqlen", False),
    ("protocol_type", "type", False),
)
# The attributes the rtnetlink variant still reads from sysfs: file -> metric suffix.
RTNL_SYSFS = {"addr_assign_type": "address_assign_type", "dev_id": "device_id", "name_assign_type": "name_assign_type"}

# --collector.netclass_rtnl.with-stats: rtnl_link_stats64 field -> metric suffix (gauges upstream).
RTNL_STATS = (
    ("rx_packets", "receive_packets_total"), ("tx_packets", "transmit_packets_total"),
    ("rx_bytes", "receive_bytes_total"), ("tx_bytes", "transmit_bytes_total"),
    ("rx_errors", "receive_errors_total"), ("tx_errors", "transmit_errors_total"),
    ("rx_dropped", "receive_dropped_total"), ("tx_dropped", "transmit_dropped_total"),
    ("multicast", "multicast_total"), ("collisions", "collisions_total"),
    ("rx_length_errors", "receive_length_errors_total"), ("rx_over_errors", "receive_over_errors_total"),
    ("rx_crc_errors", "receive_crc_errors_total"), ("rx_frame_errors", "receive_frame_errors_total"),
    ("rx_fifo_errors", "receive_fifo_errors_total"), ("rx_missed_errors", "receive_missed_errors_total"),
    ("tx_aborted_errors", "transmit_aborted_errors_total"), ("tx_carrier_errors", "transmit_carrier_errors_total"),
    ("tx_fifo_errors", "transmit_fifo_errors_total"), ("tx_heartbeat_errors", "transmit_heartbeat_errors_total"),
    ("tx_window_errors", "transmit_window_errors_total"), ("rx_compressed", "receive_compressed_total"),
    ("tx_compressed", "transmit_compressed_total"), ("rx_nohandler", "receive_nohandler_total"),
)

# ethtool's generic netlink family (linux/ethtool_netlink.h).
ETHTOOL_MSG_LINKMODES_GET = 4
ETHTOOL_A_LINKMODES_HEADER, ETHTOOL_A_LINKMODES_SPEED, ETHTOOL_A_LINKMODES_DUPLEX = 1, 5, 6
ETHTOOL_A_HEADER_DEV_NAME, ETHTOOL_A_HEADER_FLAGS = 2, 3
ETHTOOL_FLAG_COMPACT_BITSETS = 1
NLA_F_NESTED = 0x8000
DUPLEX_NAMES = {0: "Half", 1: "Full", 255: "Unknown"}


class LinkMode(NamedTuple):
    """One link of ethtool's LINKMODES dump: speed in Mbit/s as the kernel sends it, duplex."""

    speed: int = 0
    duplex: int = 0

    @property
    def duplex_name(self) -> str:
        return DUPLEX_NAMES.get(self.duplex, f"Duplex({self.duplex})")


def parse_link_modes(replies: list[bytes]) -> dict[str, LinkMode]:
    """Interface name -> link mode; absent attributes read as upstream's zero values."""
    modes = {}
    for reply in replies:
        attrs = attribute_map(reply)
        header = attribute_map(attrs.get(ETHTOOL_A_LINKMODES_HEADER, b""))
        name = text(header.get(ETHTOOL_A_HEADER_DEV_NAME)) or ""
        modes[name] = LinkMode(speed=uint(attrs.get(ETHTOOL_A_LINKMODES_SPEED), 4) or 0,
                               duplex=uint(attrs.get(ETHTOOL_A_LINKMODES_DUPLEX), 1) or 0)
    return modes


def read_link_modes() -> dict[str, LinkMode] | None:
    """Every ethtool-capable link's mode, or None when the kernel has no ethtool netlink (before 5.6)."""
    family = genl_family("ethtool")
    if family is None:
        return None
    flags = encode_attribute(ETHTOOL_A_HEADER_FLAGS, struct.pack("=I", ETHTOOL_FLAG_COMPACT_BITSETS))
    return parse_link_modes(genl_request(family, ETHTOOL_MSG_LINKMODES_GET,
                                         encode_attribute(ETHTOOL_A_LINKMODES_HEADER | NLA_F_NESTED, flags)))


IFF_UP = 0x1


@dataclass
class NetClassIface:
    """One interface of /sys/class/net/: its text and numeric attributes and statistics."""

    name: str
    text: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)


def net_devices(context: NodeContext) -> list[str]:
    """The entries of /sys/class/net that are not regular files (procfs' NetClassDevices)."""
    return sorted(net_device_inodes(context))


def net_device_inodes(context: NodeContext) -> dict[str, int]:
    """``net_devices`` with each entry's inode, which tells a device from a later one of the same name.

    sysfs makes a new /sys/class/net/<name> link for every device it registers, and a rename
    moves the link, so the (name, inode) pair names one device for its lifetime.
    """
    with os.scandir(context.sys("class", "net")) as entries:
        return {e.name: e.inode() for e in entries if not e.is_file(follow_symlinks=False)}


def parse_iface(name: str, attributes: dict[str, str]) -> NetClassIface:
    """Build an interface from its readable attributes (file name -> trimmed content)."""
    iface = NetClassIface(name)
    for attr, value in attributes.items():
        is_text = ATTRIBUTES.get(attr)
        if is_text is None:
            continue
        if is_text:
            iface.text[attr] = value
        else:
            iface.numbers[attr] = procfs_pint64(value)
    return iface


def admin_state(flags: int | None) -> str:
    if flags is None:
        return "unknown"
    return "up" if flags & IFF_UP else "down"


def speed_bytes(speed_mbps: int) -> int:
    """Mbit/s -> bytes/s with Go's int64 arithmetic (truncation toward zero)."""
    product = speed_mbps * 1000 * 1000
    return -((-product) // 8) if product < 0 else product // 8


class NetclassCollector:
    def __init__(
        self,
        context: NodeContext,
        ignored: re.Pattern[str],
        ignore_invalid_speed: bool = False,
        netlink: bool = False,
        rtnl_with_stats: bool = False,
        netdev_families: frozenset[str] = frozenset(),
        links: Callable[[], list[Link]] = read_links,
        link_modes: Callable[[], dict[str, LinkMode] | None] = read_link_modes,
        held: HeldFiles | None = None,
    ) -> None:
        self.context = context
        self.ignored = ignored
        self.ignore_invalid_speed = ignore_invalid_speed
        self.netlink = netlink
        self.rtnl_with_stats = rtnl_with_stats
        self.netdev_families = netdev_families
        """Metric suffixes the netdev collector serves in this process (left to it with with-stats)."""
        self.links = links
        self.link_modes = link_modes
        self.held = held
        """With this host's /sys: the attribute files stay open between scrapes (``HeldFiles``)."""
        self._known: dict[str, tuple[int, list[tuple[str, str]]]] = {}
        """Device -> (inode of its /sys/class/net entry, its attribute files as (name, path)) while files are held."""
        self._inodes: dict[str, int] = {}

    def read_devices(self) -> list[str]:
        if self.held is None:
            return net_devices(self.context)
        devices = net_device_inodes(self.context)
        for device, (inode, _) in list(self._known.items()):
            if devices.get(device) != inode:  # gone, or another device of that name now
                self.held.forget(self.context.sys("class", "net", device))
                self._known.pop(device, None)
        self._inodes = devices
        return sorted(devices)

    def read_attributes(self, device: str) -> dict[str, str]:
        # only the attributes parse_iface uses: a read costs a syscall round trip each
        directory = self.context.sys("class", "net", device)
        if self.held is None:
            return read_attribute_files(directory, IGNORED_ERRNOS, ATTRIBUTES)
        known = self._known.get(device)
        if known is None:
            # a device's attribute files are made with it and stay as they are while it exists
            files = [(name, os.path.join(directory, name)) for name in regular_files(directory) if name in ATTRIBUTES]
            # a device that another scrape's listing lacks is listed again on the next scrape
            self._known[device] = known = (self._inodes.get(device, -1), files)
        values = {}
        read = self.held.read_once
        for name, path in known[1]:
            try:
                values[name] = read(path, errors="surrogateescape").strip()
            except OSError as err:
                if err.errno in IGNORED_ERRNOS:
                    continue
                raise
        return values

    def read_rtnl_sysfs(self, device: str) -> dict[str, int]:
        """The variant's sysfs attributes of one link; one the kernel refuses (or a link
        sysfs does not show) is left out, any other error fails the scrape, as upstream."""
        values = {}
        for filename in RTNL_SYSFS:
            try:
                raw = sys_read_file(self.context.sys("class", "net", device, filename), errors="surrogateescape")
            except OSError as err:
                if err.errno in IGNORED_ERRNOS or err.errno == errno.ENOTDIR:
                    continue
                raise
            values[filename] = procfs_pint64(raw)
        return values

    def interfaces(self) -> list[NetClassIface]:
        """Every interface not ignored; a missing or unreadable directory (a device gone, a
        broken link) is "no data" as upstream, an unreadable attribute file only skips it."""
        result = []
        try:
            for device in self.read_devices():
                if self.ignored.search(device):
                    continue
                result.append(parse_iface(device, self.read_attributes(device)))
        except (FileNotFoundError, PermissionError) as err:
            raise NoDataError(f"could not read netclass: {err}") from err
        return result

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        return self.collect_rtnl() if self.netlink else self.build_sysfs(self.interfaces())

    def build_sysfs(self, ifaces: list[NetClassIface]) -> list[Metric]:
        up = GaugeFamily("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.",
                               labels=["device"])
        info = GaugeFamily(
            "node_network_info", "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            labels=["device", "address", "broadcast", "duplex", "operstate", "adminstate", "ifalias"],
        )
        fields = _FieldFamilies()
        for iface in ifaces:
            text = iface.text
            up.add_metric([iface.name], 1.0 if text.get("operstate") == "up" else 0.0)
            info.add_metric([
                iface.name, text.get("address", ""), text.get("broadcast", ""), text.get("duplex", ""),
                text.get("operstate", ""), admin_state(iface.numbers.get("flags")), text.get("ifalias", ""),
            ], 1.0)
            for suffix, attr, counter in SYSFS_METRICS:
                if attr in iface.numbers:
                    fields.add(suffix, counter, iface.name, iface.numbers[attr])
            speed = iface.numbers.get("speed")
            # Some devices report -1 when the speed is unknown; upstream exports it unless told not to.
            if speed is not None and (speed >= 0 or not self.ignore_invalid_speed):
                fields.add("speed_bytes", False, iface.name, speed_bytes(speed))
        return [up, info, *fields.families()]

    def collect_rtnl(self) -> list[Metric]:
        fields = _FieldFamilies()
        modes = self.link_modes()
        if modes is None:
            LOGGER.info("ETHTOOL netlink interface unavailable, duplex and linkspeed are not scraped.",
                        extra={"collector": NAME})
            modes = {}
        modes = {name: mode for name, mode in modes.items() if not self.ignored.search(name)}
        for device, link_mode in modes.items():
            # a uint32 read as Go's int: SPEED_UNKNOWN (2^32-1) is exported, not skipped
            fields.add("speed_bytes", False, device, link_mode.speed * 1000 * 1000 // 8)
        links = [link for link in self.links() if not self.ignored.search(link.name)]
        sysfs = {link.name: self.read_rtnl_sysfs(link.name) for link in links}
        up = GaugeFamily("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", labels=["device"])
        info = GaugeFamily(
            "node_network_info", "Non-numeric data of <iface>, value is always 1.",
            labels=["device", "address", "broadcast", "duplex", "operstate", "ifalias"],
        )
        for link in links:
            name = link.name
            operstate = OPERSTATES[link.operstate] if link.operstate < len(OPERSTATES) else "unknown"
            up.add_metric([name], 1.0 if operstate == "up" else 0.0)
            found = modes.get(name)
            info.add_metric([name, hardware_address(link.address), hardware_address(link.broadcast),
                             found.duplex_name if found else "", operstate, link.alias or ""], 1.0)
            attrs = sysfs[name]
            if "addr_assign_type" in attrs:
                fields.add("address_assign_type", False, name, attrs["addr_assign_type"])
            for suffix, field_name, counter in RTNL_FIELDS:
                if suffix == "flags" and "dev_id" in attrs:  # upstream's order: device_id comes first
                    fields.add("device_id", False, name, attrs["dev_id"])
                value = getattr(link, field_name)
                if value is not None:
                    fields.add(suffix, counter, name, value)
                if suffix == "dormant":
                    fields.add("iface_link", False, name, link.link if link.link > 0 else link.index)
                if suffix == "mtu_bytes" and "name_assign_type" in attrs:
                    fields.add("name_assign_type", False, name, attrs["name_assign_type"])
            if self.rtnl_with_stats and link.stats is not None:
                for stat, suffix in RTNL_STATS:
                    if suffix not in self.netdev_families:
                        fields.add(suffix, False, name, link.stats[stat])
        return [up, info, *fields.families()]


class _FieldFamilies(FamilySet):
    """``node_network_<field>{device}`` families created on first use."""

    def add(self, suffix: str, counter: bool, device: str, value: int) -> None:
        name, doc = f"node_network_{suffix}", f"Network device property: {suffix}"
        family = self.counter(name, doc, ["device"]) if counter else self.exact(name, doc, "gauge", ["device"])
        family.add_metric([device], float(value))


@dataclass(frozen=True)
class NetclassOptions:
    """The netclass collector's flags (``--collector.netclass.*``)."""

    ignored_devices: str = option("--collector.netclass.ignored-devices", "^$",
                                  "Regexp of net devices to ignore for netclass collector.")
    ignore_invalid_speed: bool = option("--collector.netclass.ignore-invalid-speed", False,
                                        "Ignore devices where the speed is invalid. This will be the default behavior "
                                        "in 2.x.")
    netlink: bool = option("--collector.netclass.netlink", False,
                           "Use netlink to gather stats instead of /proc/net/dev.")
    rtnl_with_stats: bool = option("--collector.netclass_rtnl.with-stats", False,
                                   "Expose the statistics for each network device, replacing netdev collector.")


def build(context: NodeContext) -> NetclassCollector:
    options = context.options(NetclassOptions)
    return NetclassCollector(
        context,
        compile_go_regex(options.ignored_devices, "--collector.netclass.ignored-devices"),
        ignore_invalid_speed=options.ignore_invalid_speed,
        netlink=options.netlink,
        rtnl_with_stats=options.rtnl_with_stats,
        netdev_families=frozenset(f"{key}_total" for key in netdev.served_keys(context)),
        # this host's own /proc and /sys (the context then holds files too): netclass holds its own
        held=HeldFiles(limit=HELD_FILES) if context.files is not None else None,
    )


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Exposes network interface info from /sys/class/net/", options=NetclassOptions,
    source="/sys/class/net/<iface>/ (with --collector.netclass.netlink: rtnetlink RTM_GETLINK and ethtool netlink)",
)
