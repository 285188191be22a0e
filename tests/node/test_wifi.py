"""wifi: nl80211 attribute decoding (with upstream's order quirks), fixtures, no-nl80211 hosts."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import wifi
from exporters.node.collectors._netlink import encode_attribute as attr
from tests.node.collected import samples, value
from tests.node.golden import FIXTURES


def u32(kind: int, number: int) -> bytes:
    return attr(kind, struct.pack("=I", number))


def test_parse_interface() -> None:
    mac = b"\x02\x11\x22\x33\x44\x55"
    raw = (u32(wifi.ATTR_IFINDEX, 3) + attr(wifi.ATTR_IFNAME, b"wlan0\0") + attr(wifi.ATTR_MAC, mac)
           + u32(wifi.ATTR_IFTYPE, 2) + attr(wifi.ATTR_WDEV, struct.pack("=Q", 1)) + u32(wifi.ATTR_WIPHY_FREQ, 2437))
    assert wifi.parse_interface(raw) == wifi.Interface(3, "wlan0", mac, 0, 1, 2, 2437)


def bss_reply(nested: bytes) -> bytes:
    return u32(wifi.ATTR_IFINDEX, 3) + attr(wifi.ATTR_BSS, nested)


def test_parse_bss_takes_the_entry_with_a_status() -> None:
    scanned = attr(wifi.BSS_BSSID, b"\xaa" * 6) + u32(wifi.BSS_FREQUENCY, 2412)
    ies = b"\x00\x05caf\xc3\xa9" + b"\x01\x02\x82\x84"  # SSID "café", then supported rates
    joined = (attr(wifi.BSS_BSSID, b"\x00\x01\x02\x03\x04\x05") + u32(wifi.BSS_FREQUENCY, 2437)
              + attr(wifi.BSS_BEACON_INTERVAL, struct.pack("=H", 100)) + attr(wifi.BSS_INFORMATION_ELEMENTS, ies)
              + u32(wifi.BSS_SEEN_MS_AGO, 150) + u32(wifi.BSS_STATUS, 1))
    bss = wifi.parse_bss([bss_reply(scanned), bss_reply(joined)])
    assert bss == wifi.BSS("café", b"\x00\x01\x02\x03\x04\x05", 2437, 102_400_000, 150_000_000, 1)
    with pytest.raises(wifi.NotFound):
        wifi.parse_bss([bss_reply(scanned)])
    with pytest.raises(ValueError, match="information element"):
        wifi.parse_bss([bss_reply(u32(wifi.BSS_STATUS, 0) + attr(wifi.BSS_INFORMATION_ELEMENTS, b"\x00\x09ab"))])


@pytest.mark.parametrize(("raw", "text"), [
    (b"plain", "plain"), (b"caf\xc3\xa9", "café"), (b"a\xe2\x82b", "a\ufffd\ufffdb"), (b"\xed\xa0\x80", "\ufffd" * 3),
])
def test_go_ssid_replaces_each_bad_byte(raw: bytes, text: str) -> None:
    assert wifi.go_ssid(raw) == text


def test_parse_station_follows_upstreams_attribute_order() -> None:
    info = (u32(wifi.STA_INACTIVE_TIME, 400) + u32(wifi.STA_RX_BYTES, 111) + u32(wifi.STA_TX_BYTES, 222)
            + attr(wifi.STA_SIGNAL, b"\xc7") + attr(wifi.STA_TX_BITRATE,
                                                    attr(wifi.RATE_BITRATE, struct.pack("=H", 650))
                                                    + u32(wifi.RATE_BITRATE32, 8667))
            + attr(wifi.STA_RX_BITRATE, attr(wifi.RATE_BITRATE, struct.pack("=H", 1444)))
            + u32(wifi.STA_RX_PACKETS, 5) + u32(wifi.STA_TX_RETRIES, 6) + u32(wifi.STA_CONNECTED_TIME, 1800)
            + u32(wifi.STA_BEACON_LOSS, 1) + attr(wifi.STA_RX_BYTES64, struct.pack("=Q", 1 << 33))
            + attr(wifi.STA_TX_BYTES64, struct.pack("=Q", 0)))
    station = wifi.parse_station(attr(wifi.ATTR_MAC, b"\x00\x01\x02\x03\x04\x05") + attr(wifi.ATTR_STA_INFO, info))
    assert station.connected == 1800 * 10**9 and station.inactive == 400 * 10**6
    assert station.received_bytes == 1 << 33  # the 64-bit counter replaces the 32-bit one
    assert station.transmitted_bytes == 0  # ...even when it is 0, as it comes after
    assert station.signal == -57 and station.received_packets == 5 and station.transmit_retries == 6
    assert station.transmit_bitrate == 866_700_000 and station.receive_bitrate == 144_400_000
    with pytest.raises(wifi.NotFound):
        wifi.parse_station(attr(wifi.ATTR_MAC, b"\x00" * 6))


@pytest.mark.parametrize(("ns", "seconds"), [(1_234_567_891, 1.234567891), (-1_500_000_000, -1.5), (0, 0.0)])
def test_go_seconds(ns: int, seconds: float) -> None:
    assert wifi.go_seconds(ns) == seconds


def test_fixtures() -> None:
    got = samples(wifi.WifiCollector(str(FIXTURES / "wifi")).collect())
    assert value(got, "node_wifi_interface_frequency_hertz", device="wlan0") == 2.437e9
    assert value(got, "node_wifi_station_info", device="wlan0", bssid="00:01:02:03:04:05", ssid="Café Ötzi",
                 mode="client") == 1
    assert value(got, "node_wifi_station_info", device="ap0", bssid="00:00:00:00:00:00", ssid="", mode="unknown") == 1
    assert value(got, "node_wifi_station_connected_seconds_total", device="wlp3s0",
                 mac_address="aa:bb:cc:dd:ee:ff") == 1.234567891
    assert not any(dict(labels).get("device") == "" for _, labels in got)  # the unnamed P2P device
    assert ("node_wifi_interface_frequency_hertz", (("device", "mon0"),)) in got  # no bss.json: only this


def test_fixture_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="interfaces"):
        list(wifi.WifiCollector(str(tmp_path)).collect())
    (tmp_path / "interfaces.json").write_text(json.dumps([{"Name": "wlan0", "Frequency": "2412"}]))
    with pytest.raises(ValueError, match="Frequency"):
        list(wifi.WifiCollector(str(tmp_path)).collect())
    (tmp_path / "interfaces.json").write_text(json.dumps([{"Name": "wlan0", "HardwareAddr": "not base64!"}]))
    with pytest.raises(ValueError):
        list(wifi.WifiCollector(str(tmp_path)).collect())


@pytest.mark.timeout(10)
def test_kernel_without_nl80211_is_no_data() -> None:
    if wifi.genl_family("nl80211") is not None:
        pytest.skip("this kernel has nl80211")
    with pytest.raises(NoDataError):
        list(wifi.WifiCollector().collect())
