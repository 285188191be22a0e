"""netclass: /sys/class/net attribute parsing, speed quirks, admin state, ignored devices."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.core.flags import ConfigError
from exporters.node.collectors import netclass
from exporters.node.collectors._files import sys_read_file
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
    metrics = list(netclass.NetClassCollector(make_context(tmp_path), re.compile("^$")).collect())
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
    collector = netclass.factory(make_context(tmp_path, netclass_ignore_invalid_speed=True,
                                              netclass_ignored_devices="^veth"))
    got = samples(collector.collect())
    assert ("node_network_speed_bytes", (("device", "eth1"),)) not in got
    assert ("node_network_speed_bytes", (("device", "eth0"),)) in got
    assert not any(dict(labels).get("device") == "veth9" for _, labels in got)


def test_netlink_variant_labels_and_quirks(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", {**ETH0, "link_mode": "1", "dormant": "0"})
    write(tmp_path, "sys/devices/virtual/net/eth0/statistics/rx_bytes", "77\n")
    collector = netclass.factory(make_context(tmp_path, netclass_netlink=True, netclass_rtnl_with_stats=True))
    got = samples(collector.collect())
    eth0 = (("device", "eth0"),)
    info = [dict(k[1]) for k in got if k[0] == "node_network_info"]
    assert "adminstate" not in info[0]
    assert got[("node_network_dormant", eth0)] == 1  # upstream reports the link mode here
    assert got[("node_network_iface_link", eth0)] == 1  # and the ARPHRD type here
    assert got[("node_network_receive_bytes_total", eth0)] == 77


def test_no_class_net_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(netclass.NetClassCollector(make_context(tmp_path), re.compile("^$")).collect())


def test_bad_ignored_devices_regex(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ignored-devices"):
        netclass.factory(make_context(tmp_path, netclass_ignored_devices="("))


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
    collector = netclass.NetClassCollector(make_context(tmp_path), re.compile("^$"))
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
        list(netclass.NetClassCollector(make_context(tmp_path), re.compile("^$")).collect())
    # ignored devices are not read at all
    assert samples(netclass.NetClassCollector(make_context(tmp_path), re.compile("^gone")).collect())


def test_label_value_that_is_not_utf8_drops_that_sample_only(tmp_path: Path) -> None:
    _iface(tmp_path, "eth0", ETH0)
    (tmp_path / "sys/devices/virtual/net/eth0/ifalias").write_bytes(b"bad \xff alias\n")
    got = samples(netclass.NetClassCollector(make_context(tmp_path), re.compile("^$")).collect())
    assert not any(name == "node_network_info" for name, _ in got)
    assert got[("node_network_mtu_bytes", (("device", "eth0"),))] == 9000
