"""ethtool (off by default): driver statistics and link modes over the SIOCETHTOOL ioctl.

For each device of /sys/class/net (``--collector.ethtool.device-include/-exclude``):

- ``ETHTOOL_GSET`` (the legacy ``struct ethtool_cmd``, 32-bit link-mode masks as upstream's
  library reads them): ``node_network_{supported,advertised}_speed_bytes``,
  ``node_network_supported_port_info``, the autonegotiate/pause capabilities and
  ``node_network_autonegotiate``;
- ``ETHTOOL_GDRVINFO``: ``node_ethtool_info``;
- ``ETHTOOL_GSTRINGS`` + ``ETHTOOL_GSTATS``: one untyped ``node_ethtool_<stat>`` per driver
  statistic matching ``--collector.ethtool.metrics-include``, its name sanitized and
  ``rx``/``tx`` spelled ``received``/``transmitted``; two statistics that sanitize to one
  name are both dropped.

A device that refuses a request (EOPNOTSUPP: a debug line; another errno: an error line)
only loses that request's metrics.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import re
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from exporters.core.collector import CollectorSpec, FamilyDoc, NoDataError
from exporters.core.deadline import current_deadline
from exporters.core.metrics import FamilySet, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._flags import DeviceFilter, compile_go_regex, device_filter
from exporters.node.collectors._labels import sanitize_metric_name, without_invalid_utf8
from exporters.node.collectors.netclass import net_devices
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "ethtool"

SIOCETHTOOL = 0x8946
ETHTOOL_GSET, ETHTOOL_GDRVINFO, ETHTOOL_GSTRINGS, ETHTOOL_GSTATS = 0x01, 0x03, 0x1B, 0x1D
ETH_SS_STATS = 1
ETH_GSTRING_LEN = 32
MAX_GSTRINGS = 32768  # upstream's library refuses more statistics than this
IFNAMSIZ = 16
# struct ethtool_cmd: cmd, supported, advertising, speed, duplex, port, phy_address,
# transceiver, autoneg, mdio_support, maxtxpkt, maxrxpkt, speed_hi, eth_tp_mdix,
# eth_tp_mdix_ctrl, lp_advertising, reserved[2]
ETHTOOL_CMD = struct.Struct("=IIIHBBBBBBIIHBBI8x")
# struct ethtool_drvinfo: cmd, driver, version, fw_version, bus_info, erom_version,
# reserved2, n_priv_flags, n_stats, testinfo_len, eedump_len, regdump_len
ETHTOOL_DRVINFO = struct.Struct("=I32s32s32s32s32s12sIIIII")

# ETHTOOL_LINK_MODE_*_BIT below 32 (a 32-bit mask has no others) -> (Mbit/s, duplex, PHY).
LINK_MODE_SPEEDS: dict[int, tuple[int, str, str]] = {
    0: (10, "half", "T"), 1: (10, "full", "T"), 2: (100, "half", "T"), 3: (100, "full", "T"),
    4: (1000, "half", "T"), 5: (1000, "full", "T"), 12: (10000, "full", "T"),
    17: (1000, "full", "KX"), 18: (10000, "full", "KX4"), 19: (10000, "full", "KR"),
    20: (10000, "full", "R_FEC"), 21: (20000, "full", "MLD2"), 22: (20000, "full", "KR2"),
    23: (40000, "full", "KR4"), 24: (40000, "full", "CR4"), 25: (40000, "full", "SR4"),
    26: (40000, "full", "LR4"), 27: (56000, "full", "KR4"), 28: (56000, "full", "CR4"),
    29: (56000, "full", "SR4"), 30: (56000, "full", "LR4"), 31: (25000, "full", "CR"),
}
LINK_MODE_PORTS = {"TP": 7, "AUI": 8, "MII": 9, "FIBRE": 10, "BNC": 11, "Backplane": 16}
AUTONEG_BIT, PAUSE_BIT, ASYM_PAUSE_BIT = 6, 13, 14

# (family suffix under node_network_, help) of the link-mode metrics.
SPEED_HELP = {
    "supported": "Combination of speeds and features supported by network device",
    "advertised": "Combination of speeds and features offered by network device",
}
CAPABILITY_HELP = {
    ("supported", "autonegotiate"): "If this port device supports autonegotiate",
    ("supported", "pause"): "If this port device supports pause frames",
    ("supported", "asymmetricpause"): "If this port device supports asymmetric pause frames",
    ("advertised", "autonegotiate"): "If this port device offers autonegotiate",
    ("advertised", "pause"): "If this port device offers pause capability",
    ("advertised", "asymmetricpause"): "If this port device offers asymmetric pause capability",
}
CAPABILITY_BITS = {"autonegotiate": AUTONEG_BIT, "pause": PAUSE_BIT, "asymmetricpause": ASYM_PAUSE_BIT}
# Driver statistics upstream names itself: statistic -> (metric, help).
KNOWN_STATS = {
    "rx_bytes": ("node_ethtool_received_bytes_total", "Network interface bytes received"),
    "rx_dropped": ("node_ethtool_received_dropped_total", "Number of received frames dropped"),
    "rx_errors": ("node_ethtool_received_errors_total", "Number of received frames with errors"),
    "rx_packets": ("node_ethtool_received_packets_total", "Network interface packets received"),
    "tx_bytes": ("node_ethtool_transmitted_bytes_total", "Network interface bytes sent"),
    "tx_errors": ("node_ethtool_transmitted_errors_total", "Number of sent frames with errors"),
    "tx_packets": ("node_ethtool_transmitted_packets_total", "Network interface packets sent"),
}
INFO_LABELS = ["bus_info", "device", "driver", "expansion_rom_version", "firmware_version", "version"]
INFO_HELP = ("A metric with a constant '1' value labeled by bus_info, device, driver, expansion_rom_version, "
             "firmware_version, version.")
PORT_HELP = "Type of ports or PHYs supported by network device"
AUTONEGOTIATE_HELP = "If this port is using autonegotiate"
_RECEIVED = re.compile(r"(^|_)rx(_|$)")
_TRANSMITTED = re.compile(r"(^|_)tx(_|$)")
T = TypeVar("T")


@dataclass(frozen=True)
class LinkSettings:
    supported: int
    advertising: int
    autoneg: int


@dataclass(frozen=True)
class DriverInfo:
    driver: str
    version: str
    firmware_version: str
    bus_info: str
    expansion_rom_version: str
    n_stats: int


def c_string(raw: bytes) -> str:
    """A fixed-size C char array up to its first NUL (bytes that are not UTF-8 kept as surrogates)."""
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _unpack(layout: struct.Struct, raw: bytes) -> tuple[Any, ...]:
    if len(raw) < layout.size:
        raise ValueError(f"ethtool: {len(raw)} bytes for a {layout.size}-byte structure")
    return layout.unpack_from(raw)


def parse_link_settings(raw: bytes) -> LinkSettings:
    fields = _unpack(ETHTOOL_CMD, raw)
    return LinkSettings(supported=fields[1], advertising=fields[2], autoneg=fields[8])


def parse_driver_info(raw: bytes) -> DriverInfo:
    fields = _unpack(ETHTOOL_DRVINFO, raw)
    return DriverInfo(
        driver=c_string(fields[1]), version=c_string(fields[2]), firmware_version=c_string(fields[3]),
        bus_info=c_string(fields[4]), expansion_rom_version=c_string(fields[5]), n_stats=fields[8],
    )


def parse_stats(strings: bytes, values: bytes, count: int) -> dict[str, int]:
    """Statistic name -> value; an empty name is skipped, a repeated one keeps its last value."""
    count = min(count, len(strings) // ETH_GSTRING_LEN, len(values) // 8)
    numbers = struct.unpack_from(f"={count}Q", values)
    stats = {}
    for i in range(count):
        name = c_string(strings[i * ETH_GSTRING_LEN:(i + 1) * ETH_GSTRING_LEN])
        if name:
            stats[name] = numbers[i]
    return stats


def metric_name(stat: str) -> str:
    """upstream's buildEthtoolFQName: sanitized, lower case, leading _ trimmed, rx/tx spelled out."""
    name = sanitize_metric_name(stat).lower().lstrip("_")
    name = _TRANSMITTED.sub(r"\1transmitted\2", _RECEIVED.sub(r"\1received\2", name))
    return f"node_ethtool_{name}" if name else "node_ethtool"


def selected_stats(stats: dict[str, int], pattern: re.Pattern[str]) -> list[tuple[str, str, int]]:
    """(metric, statistic, value) sorted by metric, for the statistics ``pattern`` matches;
    statistics whose metric names collide are left out (upstream drops both)."""
    names: dict[str, str | None] = {}
    for stat in stats:
        if not pattern.search(stat):
            continue
        name = metric_name(stat)
        names[name] = None if name in names else stat
    return [(name, stat, stats[stat]) for name, stat in sorted(names.items()) if stat is not None]


class EthtoolSource(Protocol):
    def link_settings(self, device: str) -> LinkSettings: ...
    def driver_info(self, device: str) -> DriverInfo: ...
    def stats(self, device: str) -> dict[str, int]: ...
    def close(self) -> None: ...


class EthtoolIoctl:
    """SIOCETHTOOL requests on one datagram socket (the ioctl's handle in this network namespace)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._buffers: tuple[ctypes.Array[ctypes.c_char], ctypes.Array[ctypes.c_char]] | None = None

    def close(self) -> None:
        self.sock.close()

    def call(self, device: str, buffer: ctypes.Array[ctypes.c_char]) -> None:
        name = device.encode("utf-8", "surrogateescape")[:IFNAMSIZ - 1]
        ifreq = bytearray(struct.pack(f"@{IFNAMSIZ}sP", name, ctypes.addressof(buffer)).ljust(40, b"\0"))
        fcntl.ioctl(self.sock.fileno(), SIOCETHTOOL, ifreq)

    def command(self, device: str, layout: struct.Struct, cmd: int) -> bytes:
        buffer = ctypes.create_string_buffer(struct.pack("=I", cmd), layout.size)
        self.call(device, buffer)
        return buffer.raw

    def link_settings(self, device: str) -> LinkSettings:
        return parse_link_settings(self.command(device, ETHTOOL_CMD, ETHTOOL_GSET))

    def driver_info(self, device: str) -> DriverInfo:
        return parse_driver_info(self.command(device, ETHTOOL_DRVINFO, ETHTOOL_GDRVINFO))

    def stats(self, device: str) -> dict[str, int]:
        count = self.driver_info(device).n_stats
        if count > MAX_GSTRINGS:
            raise ValueError(f"ethtool currently doesn't support more than {MAX_GSTRINGS} entries, received {count}")
        # The kernel writes as many entries as the driver has *now*, whatever length we
        # pass: the buffers have room for the most the library accepts, as upstream's.
        if self._buffers is None:
            self._buffers = (ctypes.create_string_buffer(12 + MAX_GSTRINGS * ETH_GSTRING_LEN),
                             ctypes.create_string_buffer(8 + MAX_GSTRINGS * 8))
        strings, values = self._buffers
        struct.pack_into("=III", strings, 0, ETHTOOL_GSTRINGS, ETH_SS_STATS, count)
        self.call(device, strings)
        struct.pack_into("=II", values, 0, ETHTOOL_GSTATS, count)
        self.call(device, values)
        returned = min(count, struct.unpack_from("=I", strings, 8)[0], struct.unpack_from("=I", values, 4)[0])
        return parse_stats(ctypes.string_at(ctypes.addressof(strings) + 12, returned * ETH_GSTRING_LEN),
                           ctypes.string_at(ctypes.addressof(values) + 8, returned * 8), returned)


class _Families:
    """The collector's families, created on first use, in one scrape."""

    def __init__(self) -> None:
        self.gauges = FamilySet()
        self.stats = FamilySet()

    def gauge(self, name: str, documentation: str, labels: list[str]) -> GaugeFamily:
        return self.gauges.gauge(name, documentation, labels)

    def stat(self, device: str, name: str, stat: str, value: int) -> None:
        known = KNOWN_STATS.get(stat)
        metric, documentation = known if known else (name, f"Network interface {stat}")
        family = self.stats.exact(metric, documentation, "unknown", ["device"])
        if family.documentation == documentation:  # another HELP for the same name: upstream's registry refuses it
            family.add_metric([device], float(value))

    def all(self) -> list[Metric]:
        return [*self.gauges.families(), *self.stats.families()]


class EthtoolCollector:
    def __init__(self, context: NodeContext, devices: DeviceFilter, metrics: re.Pattern[str],
                 source: Callable[[], EthtoolSource] = EthtoolIoctl) -> None:
        self.context = context
        self.devices = devices
        self.metrics = metrics
        self.source = source

    def read_devices(self) -> list[str]:
        try:
            devices = net_devices(self.context)
        except (FileNotFoundError, PermissionError) as err:
            raise NoDataError(f"could not read netclass: {err}") from err
        if not devices:
            raise ValueError("no network devices found")
        return devices

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        families = _Families()
        devices = [d for d in self.read_devices() if not self.devices.ignored(d)]
        ioctl = self.source()
        try:
            for device in devices:
                current_deadline().check("asking ethtool about " + device)
                settings = self._ask(device, "link info", ioctl.link_settings)
                if settings is not None:
                    self.add_link_settings(families, device, settings)
                info = self._ask(device, "driver info", ioctl.driver_info)
                if info is not None:
                    families.gauge("node_ethtool_info", INFO_HELP, INFO_LABELS).add_metric(
                        [info.bus_info, device, info.driver, info.expansion_rom_version, info.firmware_version,
                         info.version], 1.0)
                for name, stat, value in selected_stats(self._ask(device, "stats", ioctl.stats) or {}, self.metrics):
                    families.stat(device, name, stat, value)
        finally:
            ioctl.close()
        return families.all()

    @staticmethod
    def _ask(device: str, what: str, request: Callable[[str], T]) -> T | None:
        try:
            return request(device)
        except OSError as err:
            level = logging.DEBUG if err.errno == errno.EOPNOTSUPP else logging.ERROR
            LOGGER.log(level, f"ethtool {what} error",
                       extra={"collector": NAME, "device": device, "err": str(err), "errno": err.errno})
        except ValueError as err:
            LOGGER.error(f"ethtool {what} error", extra={"collector": NAME, "device": device, "err": str(err)})
        return None

    @staticmethod
    def add_link_settings(families: _Families, device: str, settings: LinkSettings) -> None:
        for prefix, modes in (("supported", settings.supported), ("advertised", settings.advertising)):
            speeds = families.gauge(f"node_network_{prefix}_speed_bytes", SPEED_HELP[prefix],
                                    ["device", "duplex", "mode"])
            for bit, (speed, duplex, phy) in LINK_MODE_SPEEDS.items():
                if modes >> bit & 1:
                    speeds.add_metric([device, duplex, f"{speed}base{phy}"], speed * 1000000.0 / 8.0)
            if prefix == "supported":
                ports = families.gauge("node_network_supported_port_info", PORT_HELP, ["device", "type"])
                for port, bit in LINK_MODE_PORTS.items():
                    if modes >> bit & 1:
                        ports.add_metric([device, port], 1.0)
            for capability, bit in CAPABILITY_BITS.items():
                families.gauge(f"node_network_{capability}_{prefix}", CAPABILITY_HELP[(prefix, capability)],
                               ["device"]).add_metric([device], float(modes >> bit & 1))
        families.gauge("node_network_autonegotiate", AUTONEGOTIATE_HELP, ["device"]).add_metric(
            [device], float(settings.autoneg))


@dataclass(frozen=True)
class EthtoolOptions:
    """The ethtool collector's flags (``--collector.ethtool.*``)."""

    device_include: str = option("--collector.ethtool.device-include", "",
                                 "Regexp of ethtool devices to include (mutually exclusive to device-exclude).")
    device_exclude: str = option("--collector.ethtool.device-exclude", "",
                                 "Regexp of ethtool devices to exclude (mutually exclusive to device-include).")
    metrics_include: str = option("--collector.ethtool.metrics-include", ".*", "Regexp of ethtool stats to include.")


def build(context: NodeContext) -> EthtoolCollector:
    options = context.options(EthtoolOptions)
    # upstream does not refuse include and exclude together: both apply
    devices = device_filter(options.device_exclude, options.device_include, "--collector.ethtool", exclusive=False)
    metrics = compile_go_regex(options.metrics_include, "--collector.ethtool.metrics-include")
    return EthtoolCollector(context, devices, metrics)


GSET = "ETHTOOL_GSET (link modes)"
FAMILIES = (
    FamilyDoc("node_ethtool_info", "gauge", tuple(INFO_LABELS), INFO_HELP, source="ETHTOOL_GDRVINFO"),
    *(FamilyDoc(f"node_network_{prefix}_speed_bytes", "gauge", ("device", "duplex", "mode"), text, source=GSET)
      for prefix, text in SPEED_HELP.items()),
    FamilyDoc("node_network_supported_port_info", "gauge", ("device", "type"), PORT_HELP, source=GSET),
    *(FamilyDoc(f"node_network_{capability}_{prefix}", "gauge", ("device",), text, source=GSET)
      for (prefix, capability), text in CAPABILITY_HELP.items()),
    FamilyDoc("node_network_autonegotiate", "gauge", ("device",), AUTONEGOTIATE_HELP, source=GSET),
    *(FamilyDoc(metric, "untyped", ("device",), text, source=f"ETHTOOL_GSTATS statistic {stat}")
      for stat, (metric, text) in KNOWN_STATS.items()),
    FamilyDoc("node_ethtool_<stat>", "untyped", ("device",), "Network interface <stat>",
              source="ETHTOOL_GSTRINGS and ETHTOOL_GSTATS: each driver statistic matching "
                     "--collector.ethtool.metrics-include, rx/tx spelled received/transmitted"),
)

SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False,
    help="Exposes network interface information and network driver statistics equivalent to `ethtool`, "
    "`ethtool -S`, and `ethtool -i`.",
    options=EthtoolOptions,
    source="the SIOCETHTOOL ioctl on each device of /sys/class/net",
    families=FAMILIES,
)
