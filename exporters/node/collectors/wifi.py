"""wifi (off by default): WiFi interfaces, their BSS and stations, over nl80211 (generic netlink).

For each named nl80211 interface: ``node_wifi_interface_frequency_hertz``; the BSS the
interface is authenticated/associated/joined to (NL80211_CMD_GET_SCAN, the entry with a
status) as ``node_wifi_station_info{bssid,ssid,mode}``; each station
(NL80211_CMD_GET_STATION) as ``node_wifi_station_*{device,mac_address}``. A kernel without
nl80211 (or a refused socket) is "no data".

``--collector.wifi.fixtures=DIR`` reads upstream's JSON fixtures instead:
``DIR/interfaces.json`` and, per interface, ``DIR/<name>/bss.json`` and
``DIR/<name>/stationinfo.json`` (Go's encoding of the wifi library's structs: durations in
nanoseconds, hardware addresses base64). A missing per-interface file is "nothing there".
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._gojson import Kind, Schema, decode_array, decode_struct, read_file
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._netlink import (
    NetlinkError,
    attribute_map,
    encode_attribute,
    genl_family,
    genl_request,
    parse_attributes,
    text,
    uint,
)
from exporters.node.collectors._rtnl import hardware_address
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "wifi"

NL80211_CMD_GET_INTERFACE, NL80211_CMD_GET_STATION, NL80211_CMD_GET_SCAN = 5, 17, 32
ATTR_WIPHY, ATTR_IFINDEX, ATTR_IFNAME, ATTR_IFTYPE, ATTR_MAC = 1, 3, 4, 5, 6
ATTR_STA_INFO, ATTR_WIPHY_FREQ, ATTR_BSS, ATTR_WDEV = 21, 38, 47, 153
BSS_BSSID, BSS_FREQUENCY, BSS_BEACON_INTERVAL, BSS_INFORMATION_ELEMENTS = 1, 2, 4, 6
BSS_STATUS, BSS_SEEN_MS_AGO = 9, 10
STA_INACTIVE_TIME, STA_RX_BYTES, STA_TX_BYTES, STA_SIGNAL, STA_TX_BITRATE = 1, 2, 3, 7, 8
STA_RX_PACKETS, STA_TX_PACKETS, STA_TX_RETRIES, STA_TX_FAILED, STA_RX_BITRATE = 9, 10, 11, 12, 14
STA_CONNECTED_TIME, STA_BEACON_LOSS, STA_RX_BYTES64, STA_TX_BYTES64 = 16, 18, 23, 24
RATE_BITRATE, RATE_BITRATE32 = 1, 5
IE_SSID = 0
NS_PER_SECOND, NS_PER_MS = 1_000_000_000, 1_000_000


@dataclass(frozen=True)
class Interface:
    index: int = 0
    name: str = ""
    hardware_addr: bytes = b""
    phy: int = 0
    device: int = 0
    type: int = 0
    frequency: int = 0
    """MHz."""


@dataclass(frozen=True)
class BSS:
    ssid: str = ""
    bssid: bytes = b""
    frequency: int = 0
    beacon_interval: int = 0
    last_seen: int = 0
    status: int = 0


@dataclass(frozen=True)
class Station:
    hardware_addr: bytes = b""
    connected: int = 0
    """Nanoseconds, as Go's time.Duration (so is ``inactive``)."""
    inactive: int = 0
    received_bytes: int = 0
    transmitted_bytes: int = 0
    received_packets: int = 0
    transmitted_packets: int = 0
    receive_bitrate: int = 0
    transmit_bitrate: int = 0
    signal: int = 0
    transmit_retries: int = 0
    transmit_failed: int = 0
    beacon_loss: int = 0


class NotFound(LookupError):
    """The interface has no BSS or no stations (upstream's os.ErrNotExist): not an error."""


class WifiSource(Protocol):
    def interfaces(self) -> list[Interface]: ...
    def bss(self, interface: Interface) -> BSS: ...
    def stations(self, interface: Interface) -> list[Station]: ...


def go_ssid(raw: bytes) -> str:
    """Go's rune-by-rune decoding: each byte that is not UTF-8 becomes one U+FFFD."""
    out = []
    while raw:
        try:
            out.append(raw.decode("utf-8"))
            break
        except UnicodeDecodeError as err:
            out.append(raw[:err.start].decode("utf-8") + "\ufffd")
            raw = raw[err.start + 1:]
    return "".join(out)


def parse_information_elements(raw: bytes) -> list[tuple[int, bytes]]:
    """802.11 information elements: (id, data); a truncated element is an error."""
    elements = []
    offset = 0
    while offset < len(raw):
        if offset + 2 > len(raw) or offset + 2 + raw[offset + 1] > len(raw):
            raise ValueError("invalid 802.11 information element")
        length = raw[offset + 1]
        elements.append((raw[offset], raw[offset + 2:offset + 2 + length]))
        offset += 2 + length
    return elements


def parse_interface(attrs: bytes) -> Interface:
    values = attribute_map(attrs)
    return Interface(
        index=uint(values.get(ATTR_IFINDEX), 4) or 0, name=text(values.get(ATTR_IFNAME)) or "",
        hardware_addr=values.get(ATTR_MAC, b""), phy=uint(values.get(ATTR_WIPHY), 4) or 0,
        device=uint(values.get(ATTR_WDEV), 8) or 0, type=uint(values.get(ATTR_IFTYPE), 4) or 0,
        frequency=uint(values.get(ATTR_WIPHY_FREQ), 4) or 0,
    )


def parse_bss(replies: list[bytes]) -> BSS:
    """The first BSS entry that carries a status (the one the interface is attached to)."""
    for reply in replies:
        for kind, value in parse_attributes(reply):
            if kind != ATTR_BSS:
                continue
            nested = attribute_map(value)
            if BSS_STATUS not in nested:
                continue
            ssid = ""
            for element, data in parse_information_elements(nested.get(BSS_INFORMATION_ELEMENTS, b"")):
                if element == IE_SSID:
                    ssid = go_ssid(data)
            interval = uint(nested.get(BSS_BEACON_INTERVAL), 2) or 0
            return BSS(
                ssid=ssid, bssid=nested.get(BSS_BSSID, b""), frequency=uint(nested.get(BSS_FREQUENCY), 4) or 0,
                beacon_interval=interval * 1024 * 1000,
                last_seen=(uint(nested.get(BSS_SEEN_MS_AGO), 4) or 0) * NS_PER_MS,
                status=uint(nested.get(BSS_STATUS), 4) or 0,
            )
    raise NotFound("no BSS with a status")


def _bitrate(raw: bytes) -> int:
    """rate_info's bitrate (100 kbit/s units) in bit/s: BITRATE32, else the 16-bit BITRATE."""
    rate = 0
    for kind, value in parse_attributes(raw):
        if kind == RATE_BITRATE32:
            rate = uint(value, 4) or 0
        if rate == 0 and kind == RATE_BITRATE:
            rate = uint(value, 2) or 0
    return rate * 100 * 1000


# STA_INFO attribute -> (Station field, bytes, scale) for the plain unsigned ones.
STATION_FIELDS = {
    STA_CONNECTED_TIME: ("connected", 4, NS_PER_SECOND), STA_INACTIVE_TIME: ("inactive", 4, NS_PER_MS),
    STA_RX_BYTES64: ("received_bytes", 8, 1), STA_TX_BYTES64: ("transmitted_bytes", 8, 1),
    STA_RX_PACKETS: ("received_packets", 4, 1), STA_TX_PACKETS: ("transmitted_packets", 4, 1),
    STA_TX_RETRIES: ("transmit_retries", 4, 1), STA_TX_FAILED: ("transmit_failed", 4, 1),
    STA_BEACON_LOSS: ("beacon_loss", 4, 1),
}
# The 32-bit byte counters count only while the 64-bit ones have not been seen (older kernels).
STATION_FALLBACKS = {STA_RX_BYTES: "received_bytes", STA_TX_BYTES: "transmitted_bytes"}


def parse_station(reply: bytes) -> Station:
    values = attribute_map(reply)
    info = values.get(ATTR_STA_INFO)
    if info is None:
        raise NotFound("station without STA_INFO")
    fields: dict[str, int] = {}
    for kind, value in parse_attributes(info):
        if kind in STATION_FIELDS:
            name, size, scale = STATION_FIELDS[kind]
            number = uint(value, size)
            if number is not None:
                fields[name] = number * scale
        elif kind == STA_SIGNAL and value:
            fields["signal"] = struct.unpack_from("=b", value)[0]
        elif kind in (STA_RX_BITRATE, STA_TX_BITRATE):
            fields["receive_bitrate" if kind == STA_RX_BITRATE else "transmit_bitrate"] = _bitrate(value)
        if kind in STATION_FALLBACKS and not fields.get(STATION_FALLBACKS[kind]):
            fields[STATION_FALLBACKS[kind]] = uint(value, 4) or 0
    return Station(hardware_addr=values.get(ATTR_MAC, b""), **fields)


class Nl80211:
    """The kernel's nl80211 family; constructing it fails with NoDataError where there is none."""

    def __init__(self) -> None:
        try:
            family = genl_family("nl80211")
        except PermissionError as err:
            raise NoDataError("wifi collector got permission denied when accessing metrics") from err
        if family is None:
            raise NoDataError("wifi collector metrics are not available for this system")
        self.family = family

    def _ask(self, command: int, interface: Interface | None) -> list[bytes]:
        attrs = b""
        if interface is not None:
            attrs = encode_attribute(ATTR_IFINDEX, struct.pack("=I", interface.index & 0xFFFFFFFF))
            if interface.hardware_addr:
                attrs += encode_attribute(ATTR_MAC, interface.hardware_addr)
        try:
            return genl_request(self.family, command, attrs)
        except NetlinkError as err:
            if err.errno == errno.ENOENT:
                raise NotFound(str(err)) from err
            raise

    def interfaces(self) -> list[Interface]:
        return [parse_interface(reply) for reply in self._ask(NL80211_CMD_GET_INTERFACE, None)]

    def bss(self, interface: Interface) -> BSS:
        return parse_bss(self._ask(NL80211_CMD_GET_SCAN, interface))

    def stations(self, interface: Interface) -> list[Station]:
        replies = self._ask(NL80211_CMD_GET_STATION, interface)
        if not replies:
            raise NotFound("no stations")
        return [parse_station(reply) for reply in replies]


def _int64(field: str) -> tuple[str, Kind]:
    return field, ("int", 64)


INTERFACE_SCHEMA: Schema = {
    "index": _int64("index"), "name": ("name", ("str", 0)), "hardwareaddr": ("hardware_addr", ("bytes", 0)),
    "phy": _int64("phy"), "device": _int64("device"), "type": _int64("type"), "frequency": _int64("frequency"),
}
BSS_SCHEMA: Schema = {
    "ssid": ("ssid", ("str", 0)), "bssid": ("bssid", ("bytes", 0)), "frequency": _int64("frequency"),
    "beaconinterval": _int64("beacon_interval"), "lastseen": _int64("last_seen"), "status": _int64("status"),
}
STATION_SCHEMA: Schema = {
    "hardwareaddr": ("hardware_addr", ("bytes", 0)),
    **{field.replace("_", ""): _int64(field) for field in (
        "connected", "inactive", "received_bytes", "transmitted_bytes", "received_packets",
        "transmitted_packets", "receive_bitrate", "transmit_bitrate", "signal", "transmit_retries",
        "transmit_failed", "beacon_loss")},
}


class WifiFixtures:
    """upstream's ``--collector.wifi.fixtures`` tree."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _read(self, *parts: str) -> object:
        try:
            return read_file(os.path.normpath(os.path.join(self.directory, *parts)))
        except FileNotFoundError as err:
            raise NotFound(str(err)) from err

    def interfaces(self) -> list[Interface]:
        items = decode_array(self._read("interfaces.json"), "*wifi.Interface")
        return [replace(Interface(), **decode_struct(item, INTERFACE_SCHEMA, "wifi.Interface"))
                for item in items if item is not None]

    def bss(self, interface: Interface) -> BSS:
        return replace(BSS(), **decode_struct(self._read(interface.name, "bss.json"), BSS_SCHEMA, "wifi.BSS"))

    def stations(self, interface: Interface) -> list[Station]:
        items = decode_array(self._read(interface.name, "stationinfo.json"), "*wifi.StationInfo")
        return [replace(Station(), **decode_struct(item, STATION_SCHEMA, "wifi.StationInfo"))
                for item in items if item is not None]


def go_seconds(nanoseconds: int) -> float:
    """Go's ``Duration.Seconds()``: whole seconds plus the remainder, each converted on its own."""
    whole = abs(nanoseconds) // NS_PER_SECOND * (1 if nanoseconds >= 0 else -1)
    return float(whole) + float(nanoseconds - whole * NS_PER_SECOND) / 1e9


def bss_mode(status: int) -> str:
    """NL80211_BSS_STATUS_{AUTHENTICATED,ASSOCIATED} -> client, IBSS_JOINED -> ad-hoc."""
    return {0: "client", 1: "client", 2: "ad-hoc"}.get(status, "unknown")


STATION_LABELS = ["device", "mac_address"]
# (metric, help, counter?, Station field, a duration?)
STATION_METRICS = (
    ("node_wifi_station_connected_seconds_total",
     "The total number of seconds a station has been connected to an access point.", True,
     "connected", True),
    ("node_wifi_station_inactive_seconds",
     "The number of seconds since any wireless activity has occurred on a station.", False,
     "inactive", True),
    ("node_wifi_station_receive_bits_per_second",
     "The current WiFi receive bitrate of a station, in bits per second.", False, "receive_bitrate", False),
    ("node_wifi_station_transmit_bits_per_second",
     "The current WiFi transmit bitrate of a station, in bits per second.", False, "transmit_bitrate", False),
    ("node_wifi_station_receive_bytes_total", "The total number of bytes received by a WiFi station.", True,
     "received_bytes", False),
    ("node_wifi_station_transmit_bytes_total", "The total number of bytes transmitted by a WiFi station.", True,
     "transmitted_bytes", False),
    ("node_wifi_station_signal_dbm", "The current WiFi signal strength, in decibel-milliwatts (dBm).", False,
     "signal", False),
    ("node_wifi_station_transmit_retries_total",
     "The total number of times a station has had to retry while sending a packet.", True,
     "transmit_retries", False),
    ("node_wifi_station_transmit_failed_total",
     "The total number of times a station has failed to send a packet.", True, "transmit_failed", False),
    ("node_wifi_station_beacon_loss_total",
     "The total number of times a station has detected a beacon loss.", True, "beacon_loss", False),
)


class WifiCollector:
    def __init__(self, fixtures: str = "") -> None:
        self.fixtures = fixtures

    def source(self) -> WifiSource:
        return WifiFixtures(self.fixtures) if self.fixtures else Nl80211()

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        source = self.source()
        try:
            interfaces = source.interfaces()
        except NotFound as err:
            raise ValueError(f"failed to retrieve wifi interfaces: {err}") from err
        frequency = GaugeFamily("node_wifi_interface_frequency_hertz",
                                "The current frequency a WiFi interface is operating at, in hertz.",
                                labels=["device"])
        info = GaugeFamily("node_wifi_station_info",
                           "Labeled WiFi interface station information as provided by the operating system.",
                           labels=["device", "bssid", "ssid", "mode"])
        stations = [(CounterFamily(name, doc, labels=STATION_LABELS) if counter
                     else GaugeFamily(name, doc, labels=STATION_LABELS), field, seconds)
                    for name, doc, counter, field, seconds in STATION_METRICS]
        for interface in interfaces:
            if not interface.name:
                continue
            frequency.add_metric([interface.name], interface.frequency * 1000.0 * 1000.0)
            try:
                bss = source.bss(interface)
            except NotFound:
                LOGGER.debug("BSS information not found for wifi device",
                             extra={"collector": NAME, "device": interface.name})
            else:
                info.add_metric([interface.name, hardware_address(bss.bssid), bss.ssid, bss_mode(bss.status)], 1.0)
            try:
                found = source.stations(interface)
            except NotFound:
                LOGGER.debug("station information not found for wifi device",
                             extra={"collector": NAME, "device": interface.name})
                continue
            for station in found:
                labels = [interface.name, hardware_address(station.hardware_addr)]
                for family, field, seconds in stations:
                    value = getattr(station, field)
                    family.add_metric(labels, go_seconds(value) if seconds else float(value))
        return [frequency, info, *(family for family, _, _ in stations)]


@dataclass(frozen=True)
class WifiOptions:
    """The wifi collector's flags (``--collector.wifi.*``)."""

    fixtures: str = option("--collector.wifi.fixtures", "", "test fixtures to use for wifi collector metrics")


def build(context: NodeContext) -> WifiCollector:
    return WifiCollector(context.options(WifiOptions).fixtures)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes WiFi device and station statistics.",
    options=WifiOptions,
    source="nl80211 (generic netlink): interfaces, their BSS and stations",
)
