"""network_route (off by default): the unicast routes of every table, over rtnetlink.

``node_network_route_info{device,src,dest,gw,priority,proto,weight}`` is 1 for each route
of type RTN_UNICAST (one series per next hop of a multipath route, ``weight`` its
``rtnh_hops + 1``); ``node_network_routes{device}`` counts them per output device.
Addresses are printed as Go's ``net.IP`` prints them (an IPv4-mapped IPv6 address as
IPv4), a zero prefix length as ``default``.
"""

from __future__ import annotations

import ipaddress
import logging
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._netlink import NETLINK_ROUTE, attribute_map, request, uint
from exporters.node.collectors._rtnl import link_names, read_links
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "network_route"

RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
RTNEXTHOP = struct.Struct("=HBBi")  # length, flags, hops, ifindex
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
RTN_UNICAST = 1
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_MULTIPATH = 1, 4, 5, 6, 7, 9

# rtm_protocol (linux/rtnetlink.h RTPROT_*) -> upstream's label value; others are "unknown".
PROTOCOLS = {
    0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra", 10: "mrt",
    11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp", 17: "mrouted",
    42: "babel", 186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp",
}
LABELS = ["device", "src", "dest", "gw", "priority", "proto", "weight"]


@dataclass(frozen=True)
class Route:
    """One series of node_network_route_info: the output interface index, then its labels."""

    ifindex: int
    src: str
    dest: str
    gateway: str
    priority: int
    protocol: str
    weight: str


def go_ip(raw: bytes | None) -> str:
    """Go's ``net.IP.String()`` of a 4- or 16-byte address ("" when there is none)."""
    if not raw:
        return ""
    if len(raw) == 16 and raw[:12] == b"\0" * 10 + b"\xff\xff":
        raw = raw[12:]
    return str(ipaddress.ip_address(raw))


def go_prefix(raw: bytes | None, length: int) -> str:
    """upstream's networkRouteIPWithPrefixToString (Go's ``net.IPNet.String()``)."""
    if length == 0:
        return "default"
    if raw is None:
        return "<nil>"
    v4 = len(raw) == 4 or raw[:12] == b"\0" * 10 + b"\xff\xff"
    if length > (32 if v4 else 128):
        return "<nil>"
    return f"{go_ip(raw)}/{length}"


def _address(raw: bytes | None) -> bytes | None:
    if raw is not None and len(raw) not in (4, 16):
        raise ValueError(f"rtnetlink: invalid IP address length: {len(raw)}")
    return raw


def parse_multipath(data: bytes) -> list[tuple[int, int, bytes | None]]:
    """(ifindex, hops, gateway) of each ``struct rtnexthop`` and its attributes."""
    hops = []
    offset = 0
    while offset < len(data):
        if offset + RTNEXTHOP.size > len(data):
            raise ValueError("rtnetlink: truncated next hop")
        length, _, count, ifindex = RTNEXTHOP.unpack_from(data, offset)
        if length < RTNEXTHOP.size or offset + length > len(data):
            raise ValueError(f"rtnetlink: next hop of {length} bytes")
        attrs = attribute_map(data[offset + RTNEXTHOP.size:offset + length])
        hops.append((ifindex, count, _address(attrs.get(RTA_GATEWAY))))
        offset += (length + 3) & ~3
    return hops


def parse_route(payload: bytes) -> list[Route]:
    """The series of one RTM_NEWROUTE payload (none unless it is a unicast route)."""
    if len(payload) < RTMSG.size:
        raise ValueError(f"rtnetlink: route message of {len(payload)} bytes")
    _, dst_len, _, _, _, protocol, _, kind, _ = RTMSG.unpack_from(payload)
    if kind != RTN_UNICAST:
        return []
    attrs = attribute_map(payload[RTMSG.size:])
    src = go_ip(_address(attrs.get(RTA_PREFSRC)))
    dest = go_prefix(_address(attrs.get(RTA_DST)), dst_len)
    priority = uint(attrs.get(RTA_PRIORITY), 4) or 0
    proto = PROTOCOLS.get(protocol, "unknown")
    multipath = attrs.get(RTA_MULTIPATH)
    if multipath:
        return [Route(ifindex, src, dest, go_ip(gateway), priority, proto, str(hops + 1))
                for ifindex, hops, gateway in parse_multipath(multipath)]
    return [Route(uint(attrs.get(RTA_OIF), 4) or 0, src, dest, go_ip(_address(attrs.get(RTA_GATEWAY))),
                  priority, proto, "")]


def parse_routes(payloads: Iterable[bytes]) -> list[Route]:
    """Every unicast route; a malformed message costs only itself (a debug line)."""
    routes = []
    for payload in payloads:
        try:
            routes.extend(parse_route(payload))
        except ValueError as err:
            LOGGER.debug("skipping a malformed route", extra={"collector": NAME, "err": str(err)})
    return routes


def read_routes() -> list[bytes]:
    body = RTMSG.pack(0, 0, 0, 0, 0, 0, 0, 0, 0)
    return [m.payload for m in request(NETLINK_ROUTE, RTM_GETROUTE, body) if m.type == RTM_NEWROUTE]


def route_families(routes: list[Route], names: dict[int, str]) -> list[Metric]:
    info = GaugeFamily("node_network_route_info", "network routing table information", labels=LABELS)
    per_device: Counter[str] = Counter()
    seen = set()
    for route in routes:
        device = names.get(route.ifindex, "")
        per_device[device] += 1
        labels = (device, route.src, route.dest, route.gateway, str(route.priority), route.protocol, route.weight)
        if labels not in seen:  # the same route in two tables: one series, as upstream's registry keeps
            seen.add(labels)
            info.add_metric(labels, 1.0)
    count = GaugeFamily("node_network_routes", "network routes by interface", labels=["device"])
    for device, total in sorted(per_device.items()):
        count.add_metric([device], float(total))
    return [info, count]


class NetworkRouteCollector:
    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        names = link_names(read_links())
        return route_families(parse_routes(read_routes()), names)


def build(context: NodeContext) -> NetworkRouteCollector:
    return NetworkRouteCollector()  # from rtnetlink: no host path applies


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes the network routing table.",
    source="rtnetlink RTM_GETROUTE dump of every table, device names from RTM_GETLINK",
)

