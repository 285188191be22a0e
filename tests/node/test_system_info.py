"""Parsers and collectors: time, timex, uname, os, selinux."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import clock as time_collector
from exporters.node.collectors import os_release as os_collector
from exporters.node.collectors import selinux, timex, uname
from tests.node.collected import samples
from tests.node.fake_host import make_context, write


def test_time_collector(tmp_path: Path) -> None:
    base = "sys/devices/system/clocksource"
    write(tmp_path, f"{base}/clocksource0/available_clocksource", "tsc hpet acpi_pm \n")
    write(tmp_path, f"{base}/clocksource0/current_clocksource", "tsc\n")
    write(tmp_path, f"{base}/clocksource3/available_clocksource", "kvm-clock\n")
    write(tmp_path, f"{base}/clocksource3/current_clocksource", "kvm-clock\n")
    collector = time_collector.TimeCollector(make_context(tmp_path), clock=lambda: 1700000000.25)
    values = samples(collector.collect())
    assert values[("node_time_seconds", ())] == 1700000000.25
    zone, offset = time_collector.zone(1700000000.25)
    assert values[("node_time_zone_offset_seconds", (("time_zone", zone),))] == offset
    available = sorted(k[1] for k in values if k[0] == "node_time_clocksource_available_info")
    assert available == [(("clocksource", "acpi_pm"), ("device", "0")), (("clocksource", "hpet"), ("device", "0")),
                         (("clocksource", "kvm-clock"), ("device", "1")), (("clocksource", "tsc"), ("device", "0"))]
    assert values[("node_time_clocksource_current_info", (("clocksource", "kvm-clock"), ("device", "1")))] == 1


def test_time_collector_missing_current(tmp_path: Path) -> None:
    write(tmp_path, "sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc\n")
    with pytest.raises(FileNotFoundError):
        list(time_collector.TimeCollector(make_context(tmp_path)).collect())


def _timex(**fields: int) -> timex.TimexState:
    state = fields.pop("state", 0)
    buf = timex.Timex()
    for name, value in fields.items():
        setattr(buf, name, value)
    return timex.TimexState(state, buf)


@pytest.mark.parametrize(
    ("state", "expect"),
    [
        (_timex(offset=1500, status=0, tick=10000, freq=65536 * 2, maxerror=16000),
         {"node_timex_offset_seconds": 0.0015, "node_timex_tick_seconds": 0.01, "node_timex_sync_status": 1.0,
          "node_timex_frequency_adjustment_ratio": 1 + 2 / 1e6, "node_timex_maxerror_seconds": 0.016}),
        (_timex(state=5, offset=1500, status=0x2000, jitter=2000, tai=37),  # STA_NANO: ns
         {"node_timex_offset_seconds": 1.5e-6, "node_timex_pps_jitter_seconds": 2e-6, "node_timex_sync_status": 0.0,
          "node_timex_status": 8192.0, "node_timex_tai_offset_seconds": 37.0}),
        (_timex(jitcnt=4, calcnt=5), {"node_timex_pps_jitter_total": 4.0, "node_timex_pps_calibration_total": 5.0}),
    ],
)
def test_timex_metrics(state: timex.TimexState, expect: dict[str, float]) -> None:
    values = {k[0]: v for k, v in samples(timex.timex_metrics(state)).items()}
    assert len(values) == 17
    for name, value in expect.items():
        assert values[name] == pytest.approx(value, rel=1e-12)


def test_timex_errors(tmp_path: Path) -> None:
    def denied() -> timex.TimexState:
        raise OSError(errno.EPERM, "Operation not permitted")

    def broken() -> timex.TimexState:
        raise OSError(errno.EINVAL, "Invalid argument")

    with pytest.raises(NoDataError):
        list(timex.TimexCollector(make_context(tmp_path), reader=denied).collect())
    with pytest.raises(OSError, match="adjtimex"):
        list(timex.TimexCollector(make_context(tmp_path), reader=broken).collect())


def test_timex_reads_the_kernel() -> None:
    try:
        state = timex.read_timex()
    except PermissionError:
        pytest.skip("adjtimex(2) is not permitted here (seccomp)")
    assert state.state in range(6)
    assert 0 < state.timex.tick < 1_000_000  # microseconds per tick: 10000 at HZ=100


def test_uname() -> None:
    values = uname.read_uname()
    assert set(values) == set(uname.LABELS)
    real = os.uname()
    assert (values["sysname"], values["release"], values["nodename"]) == (real.sysname, real.release, real.nodename)
    fake = {label: label.upper() for label in uname.LABELS}
    got = samples(uname.UnameCollector(make_context(Path("/nonexistent")), reader=lambda: fake).collect())
    assert got == {("node_uname_info", tuple(sorted(fake.items()))): 1.0}


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("", None),
        ("# comment", None),
        ("NAME=Debian", ("NAME", "Debian")),
        ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"', ("PRETTY_NAME", "Debian GNU/Linux 12 (bookworm)")),
        ("ID='ubuntu'", ("ID", "ubuntu")),
        ("  export VERSION_ID = 22.04  ", ("VERSION_ID", "22.04")),
        ("VERSION=1 # trailing comment", ("VERSION", "1")),
        ('X="a \\"b\\" \\n c"', ("X", 'a "b" \n c')),
        ('X="\\u00e9t\\u00e9"', ("X", "été")),
        ("X=", ("X", "")),
        ("export=1", ("export", "1")),
        ("a.b/c=1", ("a.b/c", "1")),
    ],
)
def test_parse_env_line(line: str, expect: tuple[str, str] | None) -> None:
    assert os_collector.parse_env_line(line) == expect


@pytest.mark.parametrize(
    "line", ["NAME", "=x", "1X=y", "X-Y=z", 'X="unterminated', "X='unterminated", 'X="bad \\q"', "X=\x01"]
)
def test_parse_env_line_malformed(line: str) -> None:
    with pytest.raises(ValueError):
        os_collector.parse_env_line(line)


@pytest.mark.parametrize(
    ("version_id", "expect"), [("12", 12.0), ("22.04", 22.04), ("8.6.2", 8.6), ("rolling", 0.0), ("", 0.0)]
)
def test_os_version(version_id: str, expect: float) -> None:
    assert os_collector.os_version(version_id) == expect


def test_os_collector(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    collector = os_collector.OsCollector(context)
    with pytest.raises(NoDataError):
        list(collector.collect())
    write(tmp_path, "root/usr/lib/os-release", 'NAME="Fallback"\nID=fb\nVERSION_ID="3.1"\n')
    values = samples(collector.collect())
    assert values[("node_os_version", (("id", "fb"), ("id_like", ""), ("name", "Fallback")))] == 3.1
    path = write(tmp_path, "root/etc/os-release", "NAME=Etc\nID=etc\nID_LIKE=debian\nVERSION_ID=12\n")
    values = samples(collector.collect())
    info = [dict(k[1]) for k in values if k[0] == "node_os_info"]
    assert info[0]["name"] == "Etc" and info[0]["id_like"] == "debian" and info[0]["version_id"] == "12"
    assert len(info[0]) == len(os_collector.INFO_LABELS)
    path.write_text("NAME=Changed\nVERSION_ID=13\n")
    os.utime(path, ns=(1, 1))  # a new mtime: re-read
    values = samples(collector.collect())
    assert [dict(k[1])["name"] for k in values if k[0] == "node_os_version"] == ["Changed"]
    path.write_text("NAME=\"broken\n")
    os.utime(path, ns=(2, 2))
    with pytest.raises(ValueError, match="line 1"):
        list(collector.collect())


@pytest.mark.parametrize(
    ("text", "expect"),
    [("SELINUX=enforcing\n", 1), ("# c\nSELINUX=permissive\nSELINUXTYPE=targeted\n", 0),
     ("SELINUX=disabled\n", -1), ("", -1), ('SELINUX="enforcing"\n', 1)],
)
def test_parse_selinux_config(text: str, expect: int) -> None:
    assert selinux.parse_selinux_config(text) == expect


def test_selinux_collector(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    assert samples(selinux.SelinuxCollector(context).collect()) == {("node_selinux_enabled", ()): 0.0}
    write(tmp_path, "sys/fs/selinux/enforce", "0\n")
    write(tmp_path, "proc/self/attr/current", "kernel\0")
    assert samples(selinux.SelinuxCollector(context).collect()) == {("node_selinux_enabled", ()): 0.0}
    write(tmp_path, "proc/self/attr/current", "system_u:system_r:init_t:s0\0")
    write(tmp_path, "root/etc/selinux/config", "SELINUX=enforcing\n")
    assert samples(selinux.SelinuxCollector(context).collect()) == {
        ("node_selinux_enabled", ()): 1.0, ("node_selinux_config_mode", ()): 1.0,
        ("node_selinux_current_mode", ()): 0.0}
