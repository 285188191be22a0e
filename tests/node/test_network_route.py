"""network_route: RTM_NEWROUTE decoding, Go's address printing, series and counts."""

from __future__ import annotations

import logging
import socket
import struct

import pytest

from exporters.node.collectors import network_route as nr
from exporters.node.collectors._netlink import encode_attribute
from tests.node.collected import samples, value


def route(dst_len: int = 0, attrs: bytes = b"", kind: int = nr.RTN_UNICAST, protocol: int = 3,
          family: int = socket.AF_INET) -> bytes:
    return nr.RTMSG.pack(family, dst_len, 0, 0, 254, protocol, 0, kind, 0) + attrs


def u32(kind: int, number: int) -> bytes:
    return encode_attribute(kind, struct.pack("=I", number))


def ip(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)


def nexthop(ifindex: int, hops: int, gateway: str | None) -> bytes:
    attrs = encode_attribute(nr.RTA_GATEWAY, ip(gateway)) if gateway else b""
    return nr.RTNEXTHOP.pack(nr.RTNEXTHOP.size + len(attrs), 0, hops, ifindex) + attrs


@pytest.mark.parametrize(("raw", "length", "expect"), [
    (None, 0, "default"),
    (ip("10.1.0.0"), 16, "10.1.0.0/16"),
    (ip("fd00::"), 64, "fd00::/64"),
    (ip("2001:db8:0:1::"), 64, "2001:db8:0:1::/64"),
    (ip("::ffff:1.2.3.0"), 24, "1.2.3.0/24"),  # Go prints an IPv4-mapped address as IPv4
    (ip("::ffff:1.2.3.0"), 120, "<nil>"),  # ...and then has no 120-bit IPv4 mask
    (ip("10.0.0.0"), 33, "<nil>"),
    (None, 8, "<nil>"),
])
def test_go_prefix(raw: bytes | None, length: int, expect: str) -> None:
    assert nr.go_prefix(raw, length) == expect


def test_go_ip() -> None:
    assert nr.go_ip(None) == "" and nr.go_ip(ip("::ffff:10.0.0.1")) == "10.0.0.1"
    assert nr.go_ip(ip("fe80::1")) == "fe80::1" and nr.go_ip(ip("1:0:2:3:4:5:6:7")) == "1:0:2:3:4:5:6:7"


def test_parse_route_single_and_multipath() -> None:
    single = route(24, encode_attribute(nr.RTA_DST, ip("10.9.0.0")) + encode_attribute(nr.RTA_PREFSRC, ip("10.9.0.1"))
                   + u32(nr.RTA_OIF, 2), protocol=2)
    assert nr.parse_route(single) == [nr.Route(2, "10.9.0.1", "10.9.0.0/24", "", 0, "kernel", "")]
    multipath = route(0, u32(nr.RTA_PRIORITY, 20) + encode_attribute(
        nr.RTA_MULTIPATH, nexthop(3, 2, "10.9.0.2") + nexthop(2, 0, None)), protocol=186)
    assert nr.parse_route(multipath) == [
        nr.Route(3, "", "default", "10.9.0.2", 20, "bgp", "3"),
        nr.Route(2, "", "default", "", 20, "bgp", "1"),
    ]
    assert nr.parse_route(route(kind=2)) == []  # RTN_LOCAL
    assert nr.parse_route(route(protocol=99))[0].protocol == "unknown"


@pytest.mark.parametrize("payload", [
    b"\0" * 4,
    route(8, encode_attribute(nr.RTA_DST, b"\x0a\x00\x00")),  # a 3-byte address
    route(0, encode_attribute(nr.RTA_MULTIPATH, nr.RTNEXTHOP.pack(40, 0, 0, 1))),  # a next hop overrunning
    route(0, encode_attribute(nr.RTA_MULTIPATH, b"\x01\x02")),
])
def test_malformed_routes_cost_only_themselves(payload: bytes, caplog: pytest.LogCaptureFixture) -> None:
    good = route(0, u32(nr.RTA_OIF, 1))
    with caplog.at_level(logging.DEBUG, logger="exporters.node"):
        assert len(nr.parse_routes([payload, good])) == 1
    assert "malformed" in caplog.text


def test_route_families_count_per_device_and_keep_one_series_per_label_set() -> None:
    routes = [nr.Route(2, "", "10.0.0.0/8", "", 0, "static", ""), nr.Route(2, "", "10.0.0.0/8", "", 0, "static", ""),
              nr.Route(3, "", "default", "10.0.0.1", 0, "boot", ""), nr.Route(9, "", "default", "", 0, "boot", "")]
    got = samples(nr.route_families(routes, {2: "eth0", 3: "eth1"}))
    assert value(got, "node_network_routes", device="eth0") == 2  # the same route in two tables counts twice
    assert value(got, "node_network_routes", device="") == 1  # an unknown interface index
    info = [labels for name, labels in got if name == "node_network_route_info"]
    assert len(info) == 3


@pytest.mark.timeout(10)
def test_real_kernel_dump() -> None:
    routes = nr.parse_routes(nr.read_routes())
    assert all(r.protocol in nr.PROTOCOLS.values() or r.protocol == "unknown" for r in routes)
