"""rtnetlink links (RTM_GETLINK): what netclass, netdev, network_route and qdisc ask the kernel.

A link message is ``struct ifinfomsg`` then IFLA_* attributes (linux/if_link.h). Fields
the kernel leaves out stay None, as upstream's decoder leaves its pointers nil.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from exporters.node.collectors._netlink import NETLINK_ROUTE, attribute_map, request, text, uint

IFINFOMSG = struct.Struct("=BxHiII")  # family, ARPHRD type, index, flags, change
RTM_NEWLINK, RTM_GETLINK = 16, 18

IFLA_ADDRESS, IFLA_BROADCAST, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 2, 3, 4, 5
IFLA_STATS, IFLA_TXQLEN, IFLA_OPERSTATE, IFLA_LINKMODE, IFLA_IFALIAS = 7, 13, 16, 17, 20
IFLA_STATS64, IFLA_GROUP, IFLA_CARRIER, IFLA_CARRIER_CHANGES = 23, 27, 33, 35
IFLA_CARRIER_UP_COUNT, IFLA_CARRIER_DOWN_COUNT = 47, 48

# rtnl_link_stats64 / rtnl_link_stats field order (the first 24; later ones are not exported).
STATS_FIELDS = (
    "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped",
    "multicast", "collisions", "rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors",
    "rx_fifo_errors", "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors",
    "tx_heartbeat_errors", "tx_window_errors", "rx_compressed", "tx_compressed", "rx_nohandler",
)
# linux/if.h IF_OPER_* -> the name upstream's netclass reports.
OPERSTATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")


@dataclass
class Link:
    """One network link as RTM_NEWLINK describes it (include/uapi/linux/if_link.h)."""

    index: int
    type: int
    """ARPHRD_* link type (``/sys/class/net/<dev>/type``)."""
    flags: int
    """``dev_get_flags()``: unlike sysfs' ``flags`` it has IFF_RUNNING, IFF_LOWER_UP, IFF_DORMANT."""
    name: str = ""
    address: bytes | None = None
    broadcast: bytes | None = None
    alias: str | None = None
    mtu: int = 0
    link: int = 0
    """IFLA_LINK: the ifindex of the lower or peer device, 0 when there is none."""
    operstate: int = 0
    linkmode: int | None = None
    carrier: int | None = None
    carrier_changes: int | None = None
    carrier_up_count: int | None = None
    carrier_down_count: int | None = None
    group: int | None = None
    txqlen: int | None = None
    stats: dict[str, int] | None = None
    """STATS_FIELDS from IFLA_STATS64, else from the 32-bit IFLA_STATS."""


def parse_stats(value: bytes | None, width: int) -> dict[str, int] | None:
    """Counters of a stats attribute; trailing fields an older kernel lacks read as 0."""
    if value is None or len(value) < width * (len(STATS_FIELDS) - 1):
        return None
    count = min(len(value) // width, len(STATS_FIELDS))
    values = struct.unpack_from(f"={count}{'Q' if width == 8 else 'I'}", value)
    return dict(zip(STATS_FIELDS, values + (0,) * (len(STATS_FIELDS) - count), strict=True))


def parse_link(payload: bytes) -> Link:
    """One RTM_NEWLINK payload; a short header or malformed attributes raise ValueError."""
    if len(payload) < IFINFOMSG.size:
        raise ValueError(f"rtnetlink: link message of {len(payload)} bytes")
    _, kind, index, flags, _ = IFINFOMSG.unpack_from(payload)
    attrs = attribute_map(payload[IFINFOMSG.size:])
    address, broadcast = attrs.get(IFLA_ADDRESS), attrs.get(IFLA_BROADCAST)
    return Link(
        index=index, type=kind, flags=flags,
        name=text(attrs.get(IFLA_IFNAME)) or "",
        address=address if address and 4 <= len(address) <= 32 else None,
        broadcast=broadcast if broadcast and 4 <= len(broadcast) <= 32 else None,
        alias=text(attrs.get(IFLA_IFALIAS)),
        mtu=uint(attrs.get(IFLA_MTU), 4) or 0,
        link=uint(attrs.get(IFLA_LINK), 4) or 0,
        operstate=uint(attrs.get(IFLA_OPERSTATE), 1) or 0,
        linkmode=uint(attrs.get(IFLA_LINKMODE), 1),
        carrier=uint(attrs.get(IFLA_CARRIER), 1),
        carrier_changes=uint(attrs.get(IFLA_CARRIER_CHANGES), 4),
        carrier_up_count=uint(attrs.get(IFLA_CARRIER_UP_COUNT), 4),
        carrier_down_count=uint(attrs.get(IFLA_CARRIER_DOWN_COUNT), 4),
        group=uint(attrs.get(IFLA_GROUP), 4),
        txqlen=uint(attrs.get(IFLA_TXQLEN), 4),
        stats=parse_stats(attrs.get(IFLA_STATS64), 8) or parse_stats(attrs.get(IFLA_STATS), 4),
    )


def parse_links(payloads: list[bytes]) -> list[Link]:
    return [parse_link(payload) for payload in payloads]


def read_links() -> list[Link]:
    """Every link of this network namespace, in one dump."""
    body = IFINFOMSG.pack(0, 0, 0, 0, 0)
    return parse_links([m.payload for m in request(NETLINK_ROUTE, RTM_GETLINK, body) if m.type == RTM_NEWLINK])


def link_names(links: list[Link]) -> dict[int, str]:
    return {link.index: link.name for link in links}


def hardware_address(value: bytes | None) -> str:
    """Go's ``net.HardwareAddr.String()``: lower-case hex bytes joined by colons."""
    return ":".join(f"{byte:02x}" for byte in value) if value else ""
