"""The netlink transport and the rtnetlink link decoder: framing tables and the real kernel."""

from __future__ import annotations

import socket
import struct

import pytest

from exporters.core.deadline import Deadline, DeadlineExceeded, deadline_scope
from exporters.node.collectors import _netlink, _rtnl
from exporters.node.collectors._netlink import NLMSG, encode_attribute


def message(kind: int, payload: bytes, flags: int = 0, seq: int = 1) -> bytes:
    length = NLMSG.size + len(payload)
    return NLMSG.pack(length, kind, flags, seq, 0) + payload + b"\0" * (((length + 3) & ~3) - length)


def test_parse_messages_walks_padded_messages() -> None:
    data = message(16, b"abc") + message(3, struct.pack("=i", 0))
    assert [(k, p) for k, _, _, p in _netlink.parse_messages(data)] == [(16, b"abc"), (3, b"\0\0\0\0")]


@pytest.mark.parametrize("data", [
    NLMSG.pack(8, 16, 0, 1, 0),  # shorter than its own header
    NLMSG.pack(64, 16, 0, 1, 0) + b"x" * 4,  # longer than the datagram
])
def test_parse_messages_refuses_lying_lengths(data: bytes) -> None:
    with pytest.raises(ValueError):
        list(_netlink.parse_messages(data))


def test_parse_attributes() -> None:
    nested = encode_attribute(1, b"\x05\0\0\0")
    data = encode_attribute(3, b"eth0\0") + encode_attribute(0x8000 | 7, nested) + encode_attribute(3, b"eth1\0")
    attrs = _netlink.parse_attributes(data)
    assert [kind for kind, _ in attrs] == [3, 7, 3]  # NLA_F_NESTED masked off
    assert _netlink.attribute_map(data)[3] == b"eth1\0"  # the last repeated one wins
    assert _netlink.uint(_netlink.attribute_map(attrs[1][1])[1], 4) == 5
    with pytest.raises(ValueError):
        _netlink.parse_attributes(struct.pack("=HH", 40, 1) + b"short")
    with pytest.raises(ValueError):
        _netlink.parse_attributes(struct.pack("=HH", 2, 1) + b"xx")


@pytest.mark.parametrize(("value", "size", "expect"), [
    (b"\x01\x00", 2, 1), (b"\x01", 2, None), (None, 4, None), (b"\x01\0\0\0\0", 4, None),
])
def test_uint_needs_the_exact_size(value: bytes | None, size: int, expect: int | None) -> None:
    assert _netlink.uint(value, size) == expect


def test_text_strips_one_nul_and_keeps_undecodable_bytes() -> None:
    assert _netlink.text(b"wl\xffan\0") == "wl\udcffan"
    assert _netlink.text(None) is None


def link_payload(index: int, attrs: bytes, kind: int = 1, flags: int = 0x11043) -> bytes:
    return _rtnl.IFINFOMSG.pack(0, kind, index, flags, 0) + attrs


def test_parse_link() -> None:
    stats64 = struct.pack("=24Q", *range(1, 25))
    attrs = (encode_attribute(_rtnl.IFLA_IFNAME, b"veth0\0") + encode_attribute(_rtnl.IFLA_MTU, b"\xdc\x05\0\0")
             + encode_attribute(_rtnl.IFLA_ADDRESS, bytes.fromhex("0a0b0c0d0e0f"))
             + encode_attribute(_rtnl.IFLA_BROADCAST, b"\xff")  # too short: left out, as upstream refuses it
             + encode_attribute(_rtnl.IFLA_CARRIER, b"\0") + encode_attribute(_rtnl.IFLA_OPERSTATE, b"\x02")
             + encode_attribute(_rtnl.IFLA_STATS, struct.pack("=24I", *([9] * 24)))
             + encode_attribute(_rtnl.IFLA_STATS64, stats64))
    link = _rtnl.parse_link(link_payload(4, attrs))
    assert (link.index, link.type, link.flags, link.name, link.mtu) == (4, 1, 0x11043, "veth0", 1500)
    assert _rtnl.hardware_address(link.address) == "0a:0b:0c:0d:0e:0f" and link.broadcast is None
    assert link.carrier == 0 and link.operstate == 2 and link.linkmode is None and link.link == 0
    assert link.stats is not None and link.stats["rx_packets"] == 1 and link.stats["rx_nohandler"] == 24


def test_parse_link_stats_fallbacks() -> None:
    old_kernel = struct.pack("=23Q", *([7] * 23))  # before 4.6: no rx_nohandler
    link = _rtnl.parse_link(link_payload(1, encode_attribute(_rtnl.IFLA_STATS64, old_kernel)))
    assert link.stats is not None and link.stats["rx_nohandler"] == 0 and link.stats["tx_bytes"] == 7
    only32 = _rtnl.parse_link(link_payload(1, encode_attribute(_rtnl.IFLA_STATS, struct.pack("=24I", *([3] * 24)))))
    assert only32.stats is not None and only32.stats["rx_bytes"] == 3
    short = _rtnl.parse_link(link_payload(1, encode_attribute(_rtnl.IFLA_STATS64, b"\0" * 16)))
    assert short.stats is None
    with pytest.raises(ValueError):
        _rtnl.parse_link(b"\0" * 8)


@pytest.mark.timeout(10)
def test_real_kernel_link_dump_and_generic_netlink_families() -> None:
    links = _rtnl.read_links()
    names = _rtnl.link_names(links)
    assert names[socket.if_nametoindex("lo")] == "lo"
    assert _netlink.genl_family("nlctrl") == (_netlink.GENL_ID_CTRL, 2)
    assert _netlink.genl_family("no-such-family") is None


@pytest.mark.timeout(10)
def test_reply_bound_and_error_replies() -> None:
    body = _rtnl.IFINFOMSG.pack(0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="larger than"):
        _netlink.request(_netlink.NETLINK_ROUTE, _rtnl.RTM_GETLINK, body, max_bytes=16)
    # a link that does not exist: the kernel's error reply is raised with its errno
    with pytest.raises(_netlink.NetlinkError) as err:
        _netlink.request(_netlink.NETLINK_ROUTE, _rtnl.RTM_GETLINK, _rtnl.IFINFOMSG.pack(0, 0, 0x7FFFFFF0, 0, 0),
                         dump=False)
    assert err.value.errno == 19  # ENODEV


def test_an_expired_scrape_deadline_stops_before_asking() -> None:
    expired = Deadline(at=10.0, clock=lambda: 11.0)
    with deadline_scope(expired), pytest.raises(DeadlineExceeded):
        _rtnl.read_links()
