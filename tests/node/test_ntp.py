"""ntp collector: the SNTP arithmetic and checks, hostile servers at the socket boundary, and a real
NTP server (chronyd, not allowed to touch the clock) on a loopback port, side by side with
node_exporter 1.9.0."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from exporters.core.flags import ConfigError
from exporters.node.collectors import ntp
from exporters.node.collectors.ntp import UNIX_EPOCH_IN_NTP, Header, NtpCollector, NtpOptions, Response
from exporters.node.context import NodeContext
from exporters.node.main import build_parser, collector_specs
from tests.conftest import ORACLES, free_port, missing, reference_binary
from tests.node.live_scrape import get, scrape

pytestmark = pytest.mark.timeout(120)


def header(**fields: object) -> Header:
    base: dict[str, object] = dict(
        leap=0, version=4, mode=4, stratum=2, poll=6, precision=-20, root_delay=0, root_dispersion=0,
        reference_id=b"\0" * 4, reference_time=ntp.to_ntp(999.0), origin_time=1,
        receive_time=ntp.to_ntp(1000.5), transmit_time=ntp.to_ntp(1000.6))
    base.update(fields)
    return Header(**base)  # type: ignore[arg-type]


def test_timestamps_round_trip() -> None:
    for unix in (0.0, 1_700_000_000.25, -UNIX_EPOCH_IN_NTP):
        assert abs(ntp.ntp_seconds(ntp.to_ntp(unix)) - unix) < 1e-6
    assert ntp.short_seconds(0x00018000) == 1.5
    assert ntp.fixed_ns(0x00000001_80000000, 32) == 1_500_000_000
    assert ntp.fixed_ns(1, 32) == 0 and ntp.fixed_ns(3, 32) == 1  # 0.23 ns rounds down, 0.70 ns up
    assert ntp.duration_seconds(-1_500_000_000) == -1.5


def test_offset_rtt_distance() -> None:
    # sent at 1000.0, server received at 1000.5 and answered at 1000.6, reply in at 1001.0
    r = ntp.make_response(header(root_delay=0x00008000, root_dispersion=0x00004000), 1000.0, 1001.0)
    assert r.clock_offset == pytest.approx(0.05, abs=1e-6)
    assert r.rtt == pytest.approx(0.9, abs=1e-6)
    assert r.root_delay == 0.5 and r.root_dispersion == 0.25
    assert r.root_distance == pytest.approx((0.9 + 0.5) / 2 + 0.25, abs=1e-6)
    assert r.min_error == 0
    assert r.time == pytest.approx(1000.6, abs=1e-6)


def test_causality_violation_bounds_the_error() -> None:
    # the server says it received before we sent: the local clock is at least 2 s ahead
    r = ntp.make_response(header(receive_time=ntp.to_ntp(998.0), transmit_time=ntp.to_ntp(998.1)), 1000.0, 1000.2)
    assert r.min_error == pytest.approx(2.0, abs=1e-6)
    assert r.rtt == pytest.approx(0.1, abs=1e-6)


def _response(**fields: object) -> Response:
    base: dict[str, object] = dict(time=1000.0, clock_offset=0.0, rtt=0.001, reference_time=990.0, root_delay=0.01,
                                   root_dispersion=0.01, root_distance=0.02, min_error=0.0, stratum=2, leap=0)
    base.update(fields)
    return Response(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "why"), [
    ({}, None),
    ({"stratum": 0}, "kiss of death received"),
    ({"stratum": 16}, "invalid stratum in response"),
    ({"reference_time": 1000.0 - 2 ** 17 - 1}, "server clock not fresh"),
    ({"root_dispersion": 16.5}, "invalid dispersion in response"),
    ({"reference_time": 1001.0}, "invalid time reported"),
    ({"leap": 3}, "invalid leap second"),
])
def test_validation(fields: dict[str, object], why: str | None) -> None:
    assert ntp.validation_error(_response(**fields)) == why


@pytest.mark.parametrize(("fields", "error"), [
    ({"mode": 3}, "invalid mode"),
    ({"transmit_time": 0}, "invalid transmit time"),
    ({"origin_time": 2}, "mismatch"),
    ({"receive_time": ntp.to_ntp(2000.0)}, "ticked backwards"),
])
def test_reply_checks(fields: dict[str, object], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ntp.check_reply(header(**fields), sent_transmit=1)
    ntp.check_reply(header(), sent_transmit=1)


def test_parse_header() -> None:
    packet = ntp.PACKET.pack((1 << 6) | (4 << 3) | 4, 3, 6, -20, 1, 2, b"GPS\0", 3, 4, 5, 6) + b"extension"
    h = ntp.parse_header(packet)
    assert (h.leap, h.version, h.mode, h.stratum, h.reference_id, h.transmit_time) == (1, 4, 4, 3, b"GPS\0", 6)
    with pytest.raises(ValueError, match="short"):
        ntp.parse_header(packet[:47])


@pytest.mark.parametrize(("address", "expected"), [
    ("127.0.0.1", ("127.0.0.1", 123)), ("127.0.0.1:1123", ("127.0.0.1", 1123)), ("::1", ("::1", 123)),
    ("[::1]", ("::1", 123)), ("[::1]:9", ("::1", 9)), ("ntp.example", ("ntp.example", 123)),
])
def test_fix_host_port(address: str, expected: tuple[str, int]) -> None:
    assert ntp.fix_host_port(address, 123) == expected


def options(*argv: str) -> NtpOptions:
    args = build_parser(collector_specs()).parse_args(["--collector.ntp", *argv])
    return ntp.options_from_flags(NodeContext(args=args))


def test_options_are_checked_as_upstream_checks_them() -> None:
    assert options() == NtpOptions("127.0.0.1", 123, 4, 1, 3.46608, 0.001)
    assert options("--collector.ntp.server=::1").server == "::1"
    assert options("--collector.ntp.server=::ffff:127.0.0.1").server == "::ffff:127.0.0.1"
    assert options("--collector.ntp.server=ntp.example", "--collector.ntp.server-is-local").server == "ntp.example"
    for argv, error in [
        (["--collector.ntp.server=192.0.2.1"], "only IP address of local NTP server"),
        (["--collector.ntp.server=localhost"], "only IP address of local NTP server"),
        (["--collector.ntp.protocol-version=5"], "must be 2, 3, or 4"),
        (["--collector.ntp.server-port=0"], "between 1 and 65535"),
    ]:
        with pytest.raises(ConfigError, match=error):
            options(*argv)


def test_leap_smearing_tolerance_lasts_a_day_around_the_leap_midnight() -> None:
    collector = NtpCollector(NtpOptions("127.0.0.1", offset_tolerance=0.001))
    day = ntp.DAY
    off_by_half_second = {"min_error": 0.5}
    def at(t: float, leap: int = 0) -> Response:
        return _response(time=t, reference_time=t - 10, leap=leap, **off_by_half_second)

    assert not collector.sane(at(100 * day + 10))
    # a leap second is announced: tolerated from now until a day after the coming midnight
    assert collector.sane(at(100 * day + 20, leap=1))
    assert collector.sane(at(101 * day + 5))
    assert not collector.sane(at(102 * day + 5))


# ---- servers at the socket boundary


def udp_server(answer: Callable[[bytes], bytes | None]) -> tuple[int, threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)

    def serve() -> None:
        with sock:
            try:
                data, peer = sock.recvfrom(1024)
            except OSError:
                return
            reply = answer(data)
            if reply is not None:
                sock.sendto(reply, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return int(sock.getsockname()[1]), thread


def server_reply(query: bytes, **fields: int) -> bytes:
    nonce = ntp.PACKET.unpack_from(query)[10]
    now = ntp.to_ntp(time.time())
    values = dict(li_vn_mode=(4 << 3) | 4, stratum=3, origin=nonce, receive=now, transmit=now)
    values.update(fields)
    return ntp.PACKET.pack(values["li_vn_mode"], values["stratum"], 6, -20, 0x10, 0x20, b"\0" * 4,
                           now - (10 << 32), values["origin"], values["receive"], values["transmit"])


@pytest.mark.parametrize(("answer", "error"), [
    (lambda q: server_reply(q), None),
    (lambda q: server_reply(q, origin=12345), "mismatch"),
    (lambda q: server_reply(q)[:40], "short"),
    (lambda q: server_reply(q, li_vn_mode=(4 << 3) | 5), "invalid mode"),
    (lambda q: None, "timed out"),
])
def test_query_against_a_server_under_the_tests_control(answer: Callable[[bytes], bytes | None],
                                                        error: str | None) -> None:
    port, thread = udp_server(answer)
    opts = NtpOptions("127.0.0.1", port)
    if error is None:
        response = ntp.query(opts, timeout=2)
        assert response.stratum == 3 and abs(response.clock_offset) < 1
        assert response.root_delay == pytest.approx(0x10 / 65536, abs=1e-9)
    else:
        with pytest.raises((ValueError, OSError), match=error):
            ntp.query(opts, timeout=0.3)
    thread.join(timeout=6)


def test_query_sends_the_protocol_version_and_a_nonce() -> None:
    seen: list[bytes] = []

    def record(query: bytes) -> bytes:
        seen.append(query)
        return server_reply(query)

    port, thread = udp_server(record)
    ntp.query(NtpOptions("127.0.0.1", port, version=3), timeout=2)
    thread.join(timeout=6)
    first = ntp.PACKET.unpack_from(seen[0])
    assert first[0] == (3 << 3) | 3 and first[3] == 0x20 and first[10] != 0


# ---- a real NTP server

CHRONY_CONF = """\
port {port}
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 10
cmdport 0
bindcmdaddress /
pidfile {dir}/chronyd.pid
driftfile {dir}/drift
"""


@pytest.fixture(scope="module")
def chronyd_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """chronyd serving NTP on a loopback port; -x: it never adjusts the machine's clock."""
    binary = shutil.which("chronyd") or str(ORACLES / "usr" / "sbin" / "chronyd")
    if not os.access(binary, os.X_OK):
        missing("chronyd (unpacked from Debian's chrony package by .ci/run)")
    directory = tmp_path_factory.mktemp("chronyd")
    port = free_port()
    (directory / "chrony.conf").write_text(CHRONY_CONF.format(port=port, dir=directory))
    log = directory / "chronyd.log"
    proc = subprocess.Popen([binary, "-d", "-x", "-u", "root", "-f", str(directory / "chrony.conf"), "-L", "0",
                             "-l", str(log)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 30
        while True:
            try:
                if ntp.query(NtpOptions("127.0.0.1", port), timeout=0.5).stratum == 10:
                    break
            except (OSError, ValueError):
                pass
            assert proc.poll() is None and time.monotonic() < end, "chronyd did not answer"
        assert "Disabled control of system clock" in log.read_text()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# values that do not move between two queries to the same quiet server
STABLE = ("node_ntp_stratum", "node_ntp_leap", "node_ntp_reference_timestamp_seconds",
          "node_ntp_root_delay_seconds", "node_ntp_root_dispersion_seconds", "node_ntp_sanity",
          "node_scrape_collector_success")


def test_same_series_as_node_exporter(chronyd_port: int) -> None:
    flags = ["--collector.disable-defaults", "--collector.ntp", f"--collector.ntp.server-port={chronyd_port}",
             "--collector.ntp.protocol-version=4", "--collector.ntp.ip-ttl=1"]
    ours = scrape([sys.executable, "-m", "exporters", "node", *flags], "node_ntp")
    theirs = scrape([reference_binary("node", "trixie"), *flags], "node_ntp")
    assert get(ours, "node_scrape_collector_success", collector="ntp") == 1
    assert get(ours, "node_ntp_stratum") == 10
    assert get(ours, "node_ntp_sanity") == 1
    assert 0 <= get(ours, "node_ntp_rtt_seconds") < 1
    assert abs(get(ours, "node_ntp_offset_seconds")) < 0.5
    assert {name: (kind, set(series)) for name, (kind, series) in ours.items()} == {
        name: (kind, set(series)) for name, (kind, series) in theirs.items()}
    assert {name: ours[name] for name in STABLE} == {name: theirs[name] for name in STABLE}


def test_strict_limits_make_it_insane(chronyd_port: int) -> None:
    # a root distance no answer can meet: reachable, but not sane
    collector = NtpCollector(NtpOptions("127.0.0.1", chronyd_port, max_distance=-1.0))
    found = {m.name: m.samples[0].value for m in collector.collect()}
    assert found["node_ntp_stratum"] == 10
    assert found["node_ntp_sanity"] == 0
