"""ntp: ``node_ntp_*`` from one SNTP query to a local NTP server (node_exporter v1.7.0 ntp.go).

One 48-byte client packet per scrape (RFC 5905), as upstream's github.com/beevik/ntp v1.3.0:
a random transmit timestamp that the server must echo, a 1 s timeout, the IP TTL of
``--collector.ntp.ip-ttl`` (1: the server must be on this host or link). The server's fields
and the four timestamps give offset, round trip, root distance and the RFC 5905 sanity checks.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.flags import ConfigError, parse_duration
from exporters.core.metrics import GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.context import NodeContext

NAME = "ntp"
LOGGER = logging.getLogger("exporters.node")

PACKET = struct.Struct(">BBbbII4sQQQQ")  # the 48-byte NTP header
MODE_CLIENT, MODE_SERVER = 3, 4
LEAP_ADD_SECOND, LEAP_DEL_SECOND, LEAP_NOT_IN_SYNC = 1, 2, 3
UNIX_EPOCH_IN_NTP = 2_208_988_800  # 1970-01-01 in seconds since 1900-01-01
MAX_STRATUM = 16
MAX_POLL_INTERVAL = float(1 << 17)  # ~36 h: older reference time is not "fresh"
MAX_DISPERSION = 16.0
QUERY_TIMEOUT = 1.0  # upstream's, the default of ntpdate
DAY = 86400.0
RECV_SIZE = 8192

DEFAULT_MAX_DISTANCE = "3.46608s"  # ~ 1.5 s + PHI * (1 << maxPoll)
DEFAULT_OFFSET_TOLERANCE = "1ms"


@dataclass(frozen=True)
class Header:
    leap: int
    version: int
    mode: int
    stratum: int
    poll: int
    precision: int
    root_delay: int  # Q16.16 seconds
    root_dispersion: int  # Q16.16 seconds
    reference_id: bytes
    reference_time: int  # Q32.32 seconds since 1900
    origin_time: int
    receive_time: int
    transmit_time: int


@dataclass(frozen=True)
class Response:
    """beevik/ntp's Response: what the metrics and the sanity check are computed from (seconds)."""

    time: float  # the server's transmit time, Unix seconds
    clock_offset: float
    rtt: float
    reference_time: float  # Unix seconds (negative before 1970)
    root_delay: float
    root_dispersion: float
    root_distance: float
    min_error: float
    stratum: int
    leap: int


def fixed_ns(value: int, fraction_bits: int) -> int:
    """A fixed-point NTP value (Q32.32 or Q16.16) in nanoseconds, rounded as beevik/ntp rounds it."""
    mask = (1 << fraction_bits) - 1
    frac = (value & mask) * 1_000_000_000
    nsec = frac >> fraction_bits
    if frac & mask >= 1 << (fraction_bits - 1):
        nsec += 1
    return (value >> fraction_bits) * 1_000_000_000 + nsec


def duration_seconds(ns: int) -> float:
    """Go's ``Duration.Seconds()``: whole seconds plus the rest, so the float is Go's to the bit."""
    whole = abs(ns) // 1_000_000_000 * (1 if ns >= 0 else -1)
    return float(whole) + float(ns - whole * 1_000_000_000) / 1e9


def short_seconds(value: int) -> float:
    """A Q16.16 interval (root delay, root dispersion) in seconds."""
    return duration_seconds(fixed_ns(value, 16))


def ntp_seconds(value: int) -> float:
    """A Q32.32 NTP timestamp as Unix seconds (Go's ``UnixNano() / 1e9``)."""
    return (fixed_ns(value, 32) - UNIX_EPOCH_IN_NTP * 1_000_000_000) / 1e9


def to_ntp(unix_seconds: float) -> int:
    return round((unix_seconds + UNIX_EPOCH_IN_NTP) * 4294967296.0) & 0xFFFFFFFFFFFFFFFF


def build_query(version: int, transmit: int) -> bytes:
    """A client packet: leap 0, ``version``, client mode, precision 0x20, ``transmit`` as the nonce."""
    return PACKET.pack((version << 3) | MODE_CLIENT, 0, 0, 0x20, 0, 0, b"\0" * 4, 0, 0, 0, transmit)


def parse_header(data: bytes) -> Header:
    if len(data) < PACKET.size:
        raise ValueError(f"short NTP reply ({len(data)} bytes)")
    (li_vn_mode, stratum, poll, precision, root_delay, root_dispersion, reference_id, reference_time, origin,
     receive, transmit) = PACKET.unpack_from(data)
    return Header(li_vn_mode >> 6, (li_vn_mode >> 3) & 7, li_vn_mode & 7, stratum, poll, precision, root_delay,
                  root_dispersion, reference_id, reference_time, origin, receive, transmit)


def check_reply(header: Header, sent_transmit: int) -> None:
    """The checks a reply must pass before it is used at all (beevik/ntp getTime)."""
    if header.mode != MODE_SERVER:
        raise ValueError("invalid mode in response")
    if header.transmit_time == 0:
        raise ValueError("invalid transmit time in response")
    if header.origin_time != sent_transmit:
        raise ValueError("server response mismatch")
    if header.receive_time > header.transmit_time:
        raise ValueError("server clock ticked backwards")


def make_response(header: Header, sent: float, received: float) -> Response:
    """The derived values, from the server's header and the local send/receive times (Unix seconds)."""
    org, dst = sent, received
    rec, xmt = ntp_seconds(header.receive_time), ntp_seconds(header.transmit_time)
    rtt = max(0.0, (dst - org) - (xmt - rec))
    root_delay, root_dispersion = short_seconds(header.root_delay), short_seconds(header.root_dispersion)
    # a "causality violation" in either pair of timestamps bounds the error from below
    min_error = max(org - rec if org >= rec else 0.0, xmt - dst if xmt >= dst else 0.0)
    return Response(
        time=xmt, clock_offset=((rec - org) + (xmt - dst)) / 2, rtt=rtt,
        reference_time=ntp_seconds(header.reference_time), root_delay=root_delay,
        root_dispersion=root_dispersion, root_distance=(rtt + root_delay) / 2 + root_dispersion,
        min_error=min_error, stratum=header.stratum, leap=header.leap,
    )


def validation_error(response: Response) -> str | None:
    """Why a response is not fit for time synchronisation (beevik/ntp Validate), or None."""
    checks = (
        (response.stratum == 0, "kiss of death received"),
        (response.stratum >= MAX_STRATUM, "invalid stratum in response"),
        (response.time - response.reference_time > MAX_POLL_INTERVAL, "server clock not fresh"),
        (response.root_delay / 2 + response.root_dispersion > MAX_DISPERSION, "invalid dispersion in response"),
        (response.time < response.reference_time, "invalid time reported"),
        (response.leap == LEAP_NOT_IN_SYNC, "invalid leap second"),
    )
    return next((why for failed, why in checks if failed), None)


def fix_host_port(address: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` (a bare v6 address takes the default port)."""
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise ValueError("missing ']' in address")
        host, rest = address[1:end], address[end + 1:]
        if not rest:
            return host, default_port
        if not rest.startswith(":"):
            raise ValueError("unexpected character following ']' in address")
        return host, int(rest[1:])
    if address.count(":") == 1:
        host, port = address.split(":")
        return host, int(port)
    return address, default_port


@dataclass(frozen=True)
class NtpOptions:
    """The ntp collector's flags (``--collector.ntp.*``)."""

    server: str = option("--collector.ntp.server", "127.0.0.1", "NTP server to use for ntp collector")
    port: int = option("--collector.ntp.server-port", 123, "UDP port number to connect to on NTP server")
    version: int = option("--collector.ntp.protocol-version", 4, "NTP protocol version")
    server_is_local: bool = option("--collector.ntp.server-is-local", False,
                                   "Certify that collector.ntp.server address is not a public ntp server")
    ttl: int = option("--collector.ntp.ip-ttl", 1, "IP TTL to use while sending NTP query")
    max_distance: float = option("--collector.ntp.max-distance", parse_duration(DEFAULT_MAX_DISTANCE),
                                 "Max accumulated distance to the root", parse=parse_duration)
    offset_tolerance: float = option("--collector.ntp.local-offset-tolerance", parse_duration(DEFAULT_OFFSET_TOLERANCE),
                                     "Offset between local clock and local ntpd time to tolerate", parse=parse_duration)


def query(options: NtpOptions, wall: Callable[[], float] = time.time,
          monotonic: Callable[[], float] = time.monotonic, timeout: float = QUERY_TIMEOUT) -> Response:
    """Send one client packet and read the server's reply."""
    host, port = fix_host_port(options.server, options.port)
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(family, kind, proto) as sock:
        if options.ttl:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, options.ttl)
            else:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, options.ttl)
        sock.settimeout(timeout)
        sock.connect(address)
        nonce = int.from_bytes(os.urandom(8), "big")
        sent_wall, sent_mono = wall(), monotonic()
        sock.send(build_query(options.version, nonce))
        data = sock.recv(RECV_SIZE)
        # the receive time as upstream takes it: send time plus elapsed monotonic time
        received = sent_wall + max(0.0, monotonic() - sent_mono)
    header = parse_header(data)
    check_reply(header, nonce)
    return make_response(header, sent_wall, received)


# (family, help) of each gauge, in the order collect() fills them
FAMILIES = (
    ("node_ntp_stratum", "NTPD stratum."),
    ("node_ntp_leap", "NTPD leap second indicator, 2 bits."),
    ("node_ntp_rtt_seconds", "RTT to NTPD."),
    ("node_ntp_offset_seconds", "ClockOffset between NTP and local clock."),
    ("node_ntp_reference_timestamp_seconds", "NTPD ReferenceTime, UNIX timestamp."),
    ("node_ntp_root_delay_seconds", "NTPD RootDelay."),
    ("node_ntp_root_dispersion_seconds", "NTPD RootDispersion."),
    ("node_ntp_sanity", "NTPD sanity according to RFC5905 heuristics and configured limits."),
)


class NtpCollector:
    def __init__(self, options: NtpOptions, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.wall = wall
        self.monotonic = monotonic
        self._lock = threading.Lock()
        # the midnight after the last leap-second warning: the flag is gone right after it
        self._leap_midnight = -math.inf

    def collect(self) -> Iterable[Metric]:
        try:
            response = query(self.options, self.wall, self.monotonic)
        except (OSError, ValueError) as err:
            raise RuntimeError(f"couldn't get SNTP reply: {err}") from err
        values = (
            response.stratum,
            response.leap,
            response.rtt,
            response.clock_offset,
            # reference times before 1970 (0 = unset) read as 0
            response.reference_time if response.reference_time >= 1 else 0.0,
            response.root_delay,
            response.root_dispersion,
            1.0 if self.sane(response) else 0.0,
        )
        return [GaugeFamily(name, doc, value=value) for (name, doc), value in zip(FAMILIES, values, strict=True)]

    def sane(self, response: Response) -> bool:
        max_error = self.options.offset_tolerance
        with self._lock:
            if response.leap in (LEAP_ADD_SECOND, LEAP_DEL_SECOND):
                self._leap_midnight = math.floor(response.time / DAY) * DAY + DAY
            if self._leap_midnight - DAY < response.time < self._leap_midnight + DAY:
                max_error += 1.0  # tolerate leap smearing
        return (validation_error(response) is None and response.root_distance <= self.options.max_distance
                and response.min_error <= max_error)


def check_options(options: NtpOptions) -> NtpOptions:
    """The options, checked as upstream checks them when the collector is built."""
    if not options.server_is_local:
        try:
            address = ipaddress.ip_address(options.server)
        except ValueError:
            loopback = False
        else:
            mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
            loopback = (mapped or address).is_loopback
        if not loopback:
            raise ConfigError("only IP address of local NTP server is valid for --collector.ntp.server")
    if not 2 <= options.version <= 4:
        raise ConfigError(f"invalid NTP protocol version {options.version}; must be 2, 3, or 4")
    if options.offset_tolerance < 0:
        raise ConfigError("offset tolerance must be non-negative")
    if not 1 <= options.port <= 65535:
        raise ConfigError(f"invalid NTP port number {options.port}; must be between 1 and 65535 inclusive")
    return options


def build(context: NodeContext) -> NtpCollector:
    options = check_options(context.options(NtpOptions))
    LOGGER.warning("This collector is deprecated and will be removed in the next major version release.",
                   extra={"collector": NAME})
    return NtpCollector(options)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes local NTP daemon health to check time.",
    options=NtpOptions,
    source="one SNTP query to --collector.ntp.server",
    families=tuple(FamilyDoc(name, "gauge", (), doc) for name, doc in FAMILIES),
)
