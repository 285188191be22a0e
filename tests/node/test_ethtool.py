"""ethtool: ioctl structure decoding, metric naming, and the collector over a fake ioctl."""

from __future__ import annotations

import errno
import logging
import re
import struct
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.core.deadline import Deadline, DeadlineExceeded, deadline_scope
from exporters.core.flags import ConfigError
from exporters.node.collectors import ethtool
from tests.node.collected import samples, value
from tests.node.fake_host import context, make_context, write


def drvinfo(driver: bytes, n_stats: int, bus: bytes = b"0000:00:03.0") -> bytes:
    return ethtool.ETHTOOL_DRVINFO.pack(3, driver, b"1.0\0junk", b"fw 2", bus, b"", b"", 0, n_stats, 0, 0, 0)


def test_parse_driver_info_stops_at_the_first_nul() -> None:
    info = ethtool.parse_driver_info(drvinfo(b"e1000e", 4))
    assert (info.driver, info.version, info.firmware_version, info.bus_info, info.n_stats) == (
        "e1000e", "1.0", "fw 2", "0000:00:03.0", 4)
    assert ethtool.parse_driver_info(drvinfo(b"x" * 32, 0)).driver == "x" * 32  # no NUL: all 32 bytes


def test_parse_link_settings() -> None:
    raw = ethtool.ETHTOOL_CMD.pack(1, 0x602F, 0x20, 1000, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0)
    assert ethtool.parse_link_settings(raw) == ethtool.LinkSettings(supported=0x602F, advertising=0x20, autoneg=1)


def test_parse_stats() -> None:
    names = b"".join(n.ljust(32, b"\0") for n in (b"rx_packets", b"", b"tx_packets", b"rx_packets", b"x" * 32))
    values = struct.pack("=5Q", 1, 2, 3, 4, 5)
    # an empty name is skipped, a repeated one keeps its last value, a 32-byte name has no NUL
    assert ethtool.parse_stats(names, values, 5) == {"rx_packets": 4, "tx_packets": 3, "x" * 32: 5}
    assert ethtool.parse_stats(names, values[:16], 5) == {"rx_packets": 1}  # count bounded by the buffers


@pytest.mark.parametrize(("stat", "metric"), [
    ("rx_bytes", "node_ethtool_received_bytes"),
    ("tx_queue_0_xdp_xmit", "node_ethtool_transmitted_queue_0_xdp_xmit"),
    ("rx_rx_drops", "node_ethtool_received_rx_drops"),  # non-overlapping replacement, as Go's
    ("port.rx-dropped", "node_ethtool_port_received_dropped"),
    ("__Rx Errors", "node_ethtool_received_errors"),  # sanitized, lowered and trimmed before the rx rule
    ("tx", "node_ethtool_transmitted"),
    ("---", "node_ethtool"),
])
def test_metric_name(stat: str, metric: str) -> None:
    assert ethtool.metric_name(stat) == metric


def test_selected_stats_drops_colliding_names_and_filters_raw_names() -> None:
    stats = {"rx-errors": 1, "rx_errors": 2, "rx.errors": 3, "tx_ok": 4, "tx-ok": 5, "ok": 6}
    everything = re.compile(".*")
    assert ethtool.selected_stats(stats, everything) == [("node_ethtool_ok", "ok", 6)]
    # v1.7.0 matches the raw name: "tx-ok" is left out by this pattern, so "tx_ok" no longer collides
    assert ethtool.selected_stats(stats, re.compile("^tx_")) == [("node_ethtool_transmitted_ok", "tx_ok", 4)]


class FakeEthtool:
    """Answers like a kernel would for three devices; records what was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.closed = False

    def link_settings(self, device: str) -> ethtool.LinkSettings:
        self.asked.append(("link", device))
        if device == "eth0":  # 10/100/1000 T, TP, autoneg, pause; advertising 1000baseT/Full
            return ethtool.LinkSettings(supported=0x602F | 1 << 7, advertising=0x20 | 1 << 6, autoneg=1)
        raise OSError(errno.EOPNOTSUPP, "not supported")

    def driver_info(self, device: str) -> ethtool.DriverInfo:
        self.asked.append(("info", device))
        if device == "eth1":
            raise OSError(errno.ENODEV, "No such device")
        return ethtool.DriverInfo("virtio_net" if device == "eth0" else "veth", "1.0.0", "", "", "", 3)

    def stats(self, device: str) -> dict[str, int]:
        self.asked.append(("stats", device))
        if device == "eth0":
            return {"rx_bytes": 10, "rx_queue_0_packets": 7, "rx_timeout": 1, "weird name": 2}
        if device == "veth0":
            return {"peer_ifindex": 5, "rx-timeout": 3}  # "Network interface rx-timeout" vs eth0's HELP: dropped
        raise OSError(errno.EOPNOTSUPP, "no stats")

    def close(self) -> None:
        self.closed = True


def host(tmp_path: Path) -> None:
    for device in ("eth0", "eth1", "veth0"):
        write(tmp_path, f"sys/class/net/{device}/mtu", "1500\n")
    write(tmp_path, "sys/class/net/bonding_masters", "bond0\n")  # a regular file: not a device


def test_collect(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    host(tmp_path)
    fake = FakeEthtool()
    collector = ethtool.EthtoolCollector(make_context(tmp_path), ethtool.DeviceFilter(), re.compile(".*"),
                                         source=lambda: fake)
    with caplog.at_level(logging.DEBUG, logger="exporters.node"):
        got = samples(collector.collect())
    assert fake.closed and ("link", "bonding_masters") not in fake.asked
    assert value(got, "node_network_supported_speed_bytes", device="eth0", duplex="full", mode="1000baseT") == 125e6
    assert value(got, "node_network_supported_speed_bytes", device="eth0", duplex="half", mode="10baseT") == 1.25e6
    assert value(got, "node_network_advertised_speed_bytes", device="eth0", duplex="full", mode="1000baseT") == 125e6
    assert value(got, "node_network_supported_port_info", device="eth0", type="TP") == 1
    assert value(got, "node_network_pause_supported", device="eth0") == 1
    assert value(got, "node_network_asymmetricpause_supported", device="eth0") == 1
    assert value(got, "node_network_autonegotiate_advertised", device="eth0") == 1
    assert value(got, "node_network_pause_advertised", device="eth0") == 0
    assert value(got, "node_network_autonegotiate", device="eth0") == 1
    assert value(got, "node_ethtool_received_bytes_total", device="eth0") == 10  # upstream's own name
    assert value(got, "node_ethtool_received_queue_0_packets", device="eth0") == 7
    assert value(got, "node_ethtool_received_timeout", device="eth0") == 1
    assert value(got, "node_ethtool_weird_name", device="eth0") == 2
    assert value(got, "node_ethtool_peer_ifindex", device="veth0") == 5
    assert ("node_ethtool_received_timeout", (("device", "veth0"),)) not in got
    assert value(got, "node_ethtool_info", bus_info="", device="veth0", driver="veth", expansion_rom_version="",
                 firmware_version="", version="1.0.0") == 1
    assert not any(dict(labels).get("device") == "eth1" for _, labels in got)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["ethtool driver info error"]  # ENODEV; EOPNOTSUPP is debug
    types = {m.name: m.type for m in collector.collect()}
    assert types["node_ethtool_received_bytes_total"] == "unknown" and types["node_ethtool_info"] == "gauge"


def test_filters_from_flags(tmp_path: Path) -> None:
    host(tmp_path)
    fake = FakeEthtool()
    built = ethtool.factory(context(tmp_path, "--collector.ethtool.device-exclude=^eth1$",
                                    "--collector.ethtool.device-include=^eth",
                                    "--collector.ethtool.metrics-include=^rx"))
    built.source = lambda: fake
    got = samples(built.collect())
    assert {device for _, device in fake.asked} == {"eth0"}  # both filters apply (upstream does not refuse)
    assert {n for n, _ in got if n.startswith("node_ethtool_") and n != "node_ethtool_info"} == {
        "node_ethtool_received_bytes_total", "node_ethtool_received_queue_0_packets", "node_ethtool_received_timeout"}
    with pytest.raises(ConfigError):
        ethtool.factory(context(tmp_path, "--collector.ethtool.metrics-include=("))


def test_no_devices(tmp_path: Path) -> None:
    collector = ethtool.EthtoolCollector(make_context(tmp_path), ethtool.DeviceFilter(), re.compile(""),
                                         source=FakeEthtool)
    with pytest.raises(NoDataError):
        list(collector.collect())
    (tmp_path / "sys/class/net").mkdir(parents=True)
    with pytest.raises(ValueError, match="no network devices found"):
        list(collector.collect())


@pytest.mark.timeout(10)
def test_real_ioctl_on_loopback() -> None:
    ioctl = ethtool.EthtoolIoctl()
    try:
        with pytest.raises(OSError) as err:
            ioctl.link_settings("lo")  # loopback has no link settings
        assert err.value.errno == errno.EOPNOTSUPP
        with pytest.raises(OSError) as err:
            ioctl.driver_info("no-such-dev0")
        assert err.value.errno == errno.ENODEV
    finally:
        ioctl.close()


def test_an_expired_scrape_deadline_stops_between_devices(tmp_path: Path) -> None:
    host(tmp_path)
    fake = FakeEthtool()
    collector = ethtool.EthtoolCollector(make_context(tmp_path), ethtool.DeviceFilter(), re.compile(".*"),
                                         source=lambda: fake)
    with deadline_scope(Deadline(at=10.0, clock=lambda: 11.0)), pytest.raises(DeadlineExceeded):
        list(collector.collect())
    assert fake.asked == [] and fake.closed
