"""netclass: /sys/class/net attribute parsing, speed quirks, admin state, ignored devices."""

from __future__ import annotations

import errno
import logging
import os
import re
import struct
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.core.flags import ConfigError
from exporters.node.collectors import netclass
from exporters.node.collectors._files import HeldFiles, sys_read_file
from exporters.node.collectors._netlink import encode_attribute
from exporters.node.collectors._rtnl import STATS_FIELDS, Link
from tests.node.collected import samples, types
from tests.node.fake_host import make_context, write

ETH0 = {
    "address": "52:54:00:aa:bb:01", "broadcast": "ff:ff:ff:ff:ff:ff", "carrier": "1", "carrier_changes": "4",
    "duplex": "full", "flags": "0x1003", "ifalias": "uplink", "ifindex": "2", "iflink": "2", "mtu": "9000",
    "operstate": "up", "speed": "10000", "type": "1", "dev_id": "0x0", "name_assign_type": "4",
}


def _iface(tmp_path: Path, name: str, attrs: dict[str, str]) -> None:
    for key, value in attrs.items():
        write(tmp_path, f"sys/devices/virtual/net/{name}/{key}", value + "\n")
    (tmp_path / "sys/class/net").mkdir(parents=True, exist_ok=True)
    os.symlink(f"../../devices/virtual/net/{name}", tmp_path / "sys/class/net" / name)


@pytest.mark.parametrize(
    ("attrs", "numbers", "text"),
    [
        (ETH0, {"flags": 4099, "mtu": 9000, "speed": 10000, "dev_id": 0}, {"duplex": "full", "ifalias": "uplink"}),
        ({"speed": "-1"}, {"speed": -1}, {}),
        ({"speed": "unknown", "mtu": "0x5dc", "tx_queue_len": "010"}, {"speed": 0, "mtu": 1500, "tx_queue_len": 8},
         {}),  # procfs' ParseInt(s, 0, 64); an unparsable number reads as 0
        ({"uevent": "INTERFACE=eth0", "phys_port_name": "p0"}, {}, {"phys_port_name": "p0"}),
    ],
)
def test_parse_iface(attrs: dict[str, str], numbers: dict[str, int], text: dict[str, str]) -> None:
    iface = netclass.parse_iface("eth0", attrs)
    for key, number in numbers.items():
        assert iface.numbers[key] == number
    for key, value in text.items():
        assert iface.text[key] == value
    assert "uevent" not in iface.numbers and "uevent" not in iface.text


@pytest.mark.parametrize(("speed", "expect"), [(10000, 1250000000), (1, 125000), (0, 0), (-1, -125000),
                                               (-7, -875000)])
def test_speed_bytes(speed: int, expect: int) -> None:
    assert netclass.speed_bytes(speed) == expect


@pytest.mark.parametrize(("flags", "state"), [(None, "unknown"), (0x1003, "up"), (0x1002, "down"), (0x1, "up")])
def test_admin_state(flags: int | None, state: str) -> None:
    assert netclass.admin_state(flags) == state


def test_collect_sysfs(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", ETH0)
    _iface(tmp_path, "eth1", {"operstate": "down", "speed": "-1", "flags": "0x1002"})
    write(tmp_path, "sys/class/net/bonding_masters", "bond0\n")  # a regular file: not a device
    metrics = list(netclass.NetclassCollector(make_context(tmp_path), re.compile("^$")).collect())
    got = samples(metrics)
    eth0, eth1 = (("device", "eth0"),), (("device", "eth1"),)
    assert got[("node_network_up", eth0)] == 1 and got[("node_network_up", eth1)] == 0
    assert got[("node_network_speed_bytes", eth0)] == 1250000000
    assert got[("node_network_speed_bytes", eth1)] == -125000
    assert got[("node_network_mtu_bytes", eth0)] == 9000
    assert got[("node_network_carrier_changes_total", eth0)] == 4
    assert ("node_network_carrier", eth1) not in got  # absent attribute, no sample
    info = {dict(k[1])["device"]: dict(k[1]) for k in got if k[0] == "node_network_info"}
    assert info["eth0"]["adminstate"] == "up" and info["eth1"]["adminstate"] == "down"
    assert info["eth0"]["ifalias"] == "uplink" and info["eth1"]["duplex"] == ""
    assert sorted(info) == ["eth0", "eth1"]
    kinds = types(metrics)
    assert kinds["node_network_carrier_changes"] == "counter" and kinds["node_network_flags"] == "gauge"


def test_ignore_invalid_speed_and_ignored_devices(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", ETH0)
    _iface(tmp_path, "eth1", {"operstate": "down", "speed": "-1"})
    _iface(tmp_path, "veth9", {"operstate": "up"})
    collector = netclass.build(make_context(tmp_path, "--collector.netclass.ignore-invalid-speed",
                                              "--collector.netclass.ignored-devices=^veth"))
    got = samples(collector.collect())
    assert ("node_network_speed_bytes", (("device", "eth1"),)) not in got
    assert ("node_network_speed_bytes", (("device", "eth0"),)) in got
    assert not any(dict(labels).get("device") == "veth9" for _, labels in got)


LINKS = [
    Link(index=1, type=772, flags=0x10049, name="lo", address=b"\0" * 6, broadcast=b"\0" * 6, mtu=65536,
         operstate=0, linkmode=0, carrier=1, carrier_changes=0, group=0, txqlen=1000),
    Link(index=3, type=1, flags=0x11043, name="eth0", address=bytes.fromhex("525400aabb01"),
         broadcast=b"\xff" * 6, alias="uplink", mtu=9000, link=2, operstate=6, linkmode=1, carrier=1,
         carrier_changes=4, carrier_up_count=2, carrier_down_count=2, group=0, txqlen=1000,
         stats=dict.fromkeys(STATS_FIELDS, 0) | {"rx_bytes": 77, "rx_errors": 3}),
    Link(index=4, type=1, flags=0x1002, name="br0", mtu=1500, operstate=2, carrier=0),
    Link(index=5, type=1, flags=0x1003, name="skip0"),
]
MODES = {"eth0": netclass.LinkMode(speed=10000, duplex=1), "br0": netclass.LinkMode(speed=0xFFFFFFFF, duplex=255),
         "skip0": netclass.LinkMode(speed=100, duplex=7)}


def _rtnl(tmp_path: Path, *flags: str, modes: dict[str, netclass.LinkMode] | None = MODES
          ) -> netclass.NetclassCollector:
    if not (tmp_path / "sys/class/net/eth0").exists():
        _iface(tmp_path, "eth0", {"addr_assign_type": "0", "dev_id": "0x2", "name_assign_type": "4"})
    collector = netclass.build(make_context(tmp_path, "--collector.netclass.netlink",
                                              "--collector.netclass.ignored-devices=^skip", *flags))
    collector.links = lambda: LINKS
    collector.link_modes = lambda: modes
    return collector


def test_netlink_variant_from_rtnetlink(tmp_path: Path) -> None:
    got = samples(_rtnl(tmp_path).collect())

    def at(name: str, device: str) -> float:
        return got[(f"node_network_{name}", (("device", device),))]

    assert at("iface_link", "lo") == 1 and at("iface_link", "eth0") == 2  # IFLA_LINK, else the index
    assert at("protocol_type", "lo") == 772 and at("flags", "eth0") == 0x11043 and at("iface_id", "eth0") == 3
    assert at("dormant", "eth0") == 1 and at("iface_link_mode", "eth0") == 1  # upstream reports the link mode
    assert at("carrier", "br0") == 0  # a down link keeps its carrier
    assert at("speed_bytes", "eth0") == 1.25e9 and at("speed_bytes", "br0") == 536870911875000  # SPEED_UNKNOWN
    assert at("device_id", "eth0") == 2 and at("name_assign_type", "eth0") == 4 and at("mtu_bytes", "br0") == 1500
    assert ("node_network_device_id", (("device", "lo"),)) not in got  # not in this sysfs tree
    assert ("node_network_transmit_queue_length", (("device", "br0"),)) not in got  # not sent by the kernel
    assert at("up", "eth0") == 1 and at("up", "br0") == 0
    info = {dict(labels)["device"]: dict(labels) for name, labels in got if name == "node_network_info"}
    assert info["eth0"] == {"device": "eth0", "address": "52:54:00:aa:bb:01", "broadcast": "ff:ff:ff:ff:ff:ff",
                            "duplex": "Full", "operstate": "up", "ifalias": "uplink"}
    assert (info["lo"]["duplex"], info["lo"]["operstate"], info["br0"]["duplex"]) == ("", "unknown", "Unknown")
    assert not any(dict(labels)["device"].startswith("skip") for _, labels in got)
    assert not any(name.startswith("node_network_receive") for name, _ in got)
    kinds = types(_rtnl(tmp_path).collect())
    assert kinds["node_network_carrier_changes"] == "counter" and kinds["node_network_flags"] == "gauge"


def test_netlink_variant_stats_leave_netdevs_families_to_it(tmp_path: Path) -> None:
    alone = samples(_rtnl(tmp_path, "--collector.netclass_rtnl.with-stats", "--no-collector.netdev").collect())
    eth0 = (("device", "eth0"),)
    assert alone[("node_network_receive_bytes_total", eth0)] == 77
    assert alone[("node_network_receive_errors_total", eth0)] == 3
    beside = samples(_rtnl(tmp_path, "--collector.netclass_rtnl.with-stats").collect())  # netdev on by default
    assert ("node_network_receive_bytes_total", eth0) not in beside  # netdev's counter serves it
    assert beside[("node_network_receive_errors_total", eth0)] == 3  # netdev's is receive_errs_total


def test_netlink_variant_without_ethtool_netlink(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="exporters.node"):
        got = samples(_rtnl(tmp_path, modes=None).collect())
    assert not any(name == "node_network_speed_bytes" for name, _ in got)
    assert "ETHTOOL netlink interface unavailable" in caplog.text


def test_parse_link_modes() -> None:
    def reply(name: bytes, *attrs: bytes) -> bytes:
        header = encode_attribute(netclass.ETHTOOL_A_HEADER_DEV_NAME, name + b"\0")
        return encode_attribute(netclass.ETHTOOL_A_LINKMODES_HEADER | netclass.NLA_F_NESTED, header) + b"".join(attrs)

    speed = encode_attribute(netclass.ETHTOOL_A_LINKMODES_SPEED, struct.pack("=I", 1000))
    modes = netclass.parse_link_modes([reply(b"eth0", speed, encode_attribute(netclass.ETHTOOL_A_LINKMODES_DUPLEX,
                                                                                b"\x01")), reply(b"eth1")])
    assert modes == {"eth0": netclass.LinkMode(1000, 1), "eth1": netclass.LinkMode(0, 0)}
    assert modes["eth1"].duplex_name == "Half" and netclass.LinkMode(0, 7).duplex_name == "Duplex(7)"


@pytest.mark.timeout(10)
def test_real_ethtool_netlink_dump() -> None:
    modes = netclass.read_link_modes()
    assert modes is None or "lo" not in modes  # loopback has no link modes


def test_no_class_net_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(netclass.NetclassCollector(make_context(tmp_path), re.compile("^$")).collect())


def test_bad_ignored_devices_regex(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ignored-devices"):
        netclass.build(make_context(tmp_path, "--collector.netclass.ignored-devices=("))


@pytest.mark.parametrize(("err", "skipped"), [(errno.EINVAL, True), (errno.EOPNOTSUPP, True), (errno.EACCES, True),
                                             (errno.EIO, False)])
def test_refused_attribute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int, skipped: bool) -> None:
    """EINVAL (speed of a down link), EOPNOTSUPP, EACCES skip the attribute; other errors fail."""
    _iface(tmp_path, "eth0", ETH0)
    real = sys_read_file

    def fake(path: str, errors: str = "replace") -> str:
        if path.endswith("/speed"):
            raise OSError(err, os.strerror(err), path)
        return real(path, errors)

    monkeypatch.setattr("exporters.node.collectors._files.sys_read_file", fake)
    collector = netclass.NetclassCollector(make_context(tmp_path), re.compile("^$"))
    if not skipped:
        with pytest.raises(OSError):
            list(collector.collect())
        return
    got = samples(collector.collect())
    assert ("node_network_speed_bytes", (("device", "eth0"),)) not in got
    assert ("node_network_mtu_bytes", (("device", "eth0"),)) in got


def test_broken_device_link_is_no_data(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", ETH0)
    os.symlink("../../devices/virtual/net/gone", tmp_path / "sys/class/net/gone0")
    with pytest.raises(NoDataError):
        list(netclass.NetclassCollector(make_context(tmp_path), re.compile("^$")).collect())
    # ignored devices are not read at all
    assert samples(netclass.NetclassCollector(make_context(tmp_path), re.compile("^gone")).collect())


def test_label_value_that_is_not_utf8_drops_that_sample_only(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", ETH0)
    (tmp_path / "sys/devices/virtual/net/eth0/ifalias").write_bytes(b"bad \xff alias\n")
    got = samples(netclass.NetclassCollector(make_context(tmp_path), re.compile("^$")).collect())
    assert not any(name == "node_network_info" for name, _ in got)
    assert got[("node_network_mtu_bytes", (("device", "eth0"),))] == 9000


def _held_collector(tmp_path: Path, held: HeldFiles) -> netclass.NetclassCollector:
    return netclass.NetclassCollector(make_context(tmp_path), re.compile("^$"), held=held)


@pytest.mark.timeout(10)
def test_held_files_answer_as_fresh_reads(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", ETH0)
    _iface(tmp_path, "eth1", {"operstate": "down", "speed": "-1", "flags": "0x1002"})
    held = HeldFiles()
    collector = _held_collector(tmp_path, held)
    fresh = netclass.NetclassCollector(make_context(tmp_path), re.compile("^$"))
    assert samples(list(collector.collect())) == samples(list(fresh.collect()))
    assert len(held) == len(ETH0) + 3
    # the content changes in place, as a sysfs attribute's does: the held descriptor reads it
    (tmp_path / "sys/devices/virtual/net/eth0/carrier_changes").write_text("5\n")
    got = samples(list(collector.collect()))
    assert got[("node_network_carrier_changes_total", (("device", "eth0"),))] == 5
    assert got == samples(list(fresh.collect()))
    assert len(held) == len(ETH0) + 3


@pytest.mark.timeout(10)
def test_held_files_of_a_replaced_device_are_dropped(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", ETH0)
    held = HeldFiles()
    collector = _held_collector(tmp_path, held)
    list(collector.collect())
    # eth0 goes and another device of that name comes, with other attributes and values
    os.unlink(tmp_path / "sys/class/net/eth0")
    _iface(tmp_path, "eth9", {"mtu": "1400"})
    os.rename(tmp_path / "sys/class/net/eth9", tmp_path / "sys/class/net/eth0")
    got = samples(list(collector.collect()))
    assert got[("node_network_mtu_bytes", (("device", "eth0"),))] == 1400
    assert ("node_network_carrier_changes_total", (("device", "eth0"),)) not in got
    assert len(held) == 1
    # and a device that is gone leaves nothing open
    os.unlink(tmp_path / "sys/class/net/eth0")
    list(collector.collect())
    assert len(held) == 0


@pytest.mark.timeout(10)
def test_held_files_limit_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "a", "1\n")
    write(tmp_path, "b", "2\n")
    held = HeldFiles(limit=1)
    assert held.read_once(str(tmp_path / "a")) == "1\n"
    assert held.read_once(str(tmp_path / "b")) == "2\n"  # past the limit: read, not held
    assert len(held) == 1
    with pytest.raises(FileNotFoundError):
        held.read_once(str(tmp_path / "missing"))

    def gone(fd: int, size: int, offset: int) -> bytes:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(os, "pread", gone)
    assert held.read_once(str(tmp_path / "a")) == "1\n"  # the device's node is gone: opened afresh
    assert len(held) == 0
    held.close()


@pytest.mark.timeout(10)
def test_held_read_error_is_the_attributes_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _iface(tmp_path, "eth0", ETH0)
    held = HeldFiles()
    collector = _held_collector(tmp_path, held)
    list(collector.collect())
    real_pread = os.pread
    speed = held._fds[str(tmp_path / "sys/class/net/eth0/speed")]

    def refuse_speed(fd: int, size: int, offset: int) -> bytes:
        if fd == speed:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pread(fd, size, offset)

    monkeypatch.setattr(os, "pread", refuse_speed)
    got = samples(list(collector.collect()))
    assert ("node_network_speed_bytes", (("device", "eth0"),)) not in got
    assert got[("node_network_mtu_bytes", (("device", "eth0"),))] == 9000
    assert len(held) == len(ETH0)  # kept: the next read may succeed


@pytest.mark.timeout(10)
def test_held_files_past_the_limit_are_read_as_before(tmp_path: Path) -> None:
    for name in ("eth0", "eth1", "eth2"):
        _iface(tmp_path, name, ETH0)
    held = HeldFiles(limit=len(ETH0) + 2)
    collector = _held_collector(tmp_path, held)
    fresh = netclass.NetclassCollector(make_context(tmp_path), re.compile("^$"))
    assert samples(list(collector.collect())) == samples(list(fresh.collect()))
    assert samples(list(collector.collect())) == samples(list(fresh.collect()))
    assert len(held) == len(ETH0) + 2
