"""The shared collector helpers: Go number parsing, host file reads, flag regexps, label checks."""

from __future__ import annotations

import errno
import logging
import math
import os
from pathlib import Path

import pytest
from prometheus_client.core import GaugeMetricFamily

from exporters.core.flags import ConfigError
from exporters.node.collectors._files import HeldFiles, go_join, read_bytes, read_text, regular_files, sys_read_file
from exporters.node.collectors._flags import DeviceFilter, compile_go_regex, device_filter
from exporters.node.collectors._labels import to_valid_utf8, valid_metric_name, without_invalid_utf8
from exporters.node.collectors._strconv import go_parse_float, go_parse_int, go_parse_uint, procfs_pint64
from exporters.node.main import build_parser, collector_specs, node_context


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        ("eth", "veth0", True),  # unanchored, as Go's MatchString
        ("^eth", "veth0", False),
        ("^lo$", "lo\n", False),  # Go's $ is end of text only
        ("^lo$", "lo", True),
        ("[$]", "a$b", True),  # a literal $ inside a class stays literal
        ("[]a]", "]", True),
        (r"x\z", "x", True),  # RE2's \z
        ("^$", "", True),
        ("^$", "eth0", False),
    ],
)
def test_compile_go_regex(pattern: str, text: str, found: bool) -> None:
    assert bool(compile_go_regex(pattern, "--flag").search(text)) is found


def test_compile_go_regex_bad_pattern_is_config_error() -> None:
    with pytest.raises(ConfigError, match=r"--collector\.x"):
        compile_go_regex("(", "--collector.x")


@pytest.mark.parametrize(
    ("exclude", "include", "name", "ignored"),
    [
        ("", "", "eth0", False),
        ("^veth", "", "veth1", True),
        ("^veth", "", "eth0", False),
        ("", "^eth", "eth0", False),
        ("", "^eth", "wlan0", True),
        ("^eth1$", "^eth", "eth1", True),  # both given (allowed where upstream does not check): both apply
    ],
)
def test_device_filter(exclude: str, include: str, name: str, ignored: bool) -> None:
    assert device_filter(exclude, include, "--x", exclusive=False).ignored(name) is ignored


def test_device_filter_mutually_exclusive() -> None:
    with pytest.raises(ConfigError, match="mutually exclusive"):
        device_filter("a", "b", "--collector.netdev")
    assert DeviceFilter().ignored("anything") is False


@pytest.mark.parametrize(
    ("text", "base", "value"),
    [
        ("42", 10, 42), ("-42", 10, -42), ("+7", 10, 7), ("0x1003", 0, 0x1003), ("0X1F", 0, 31),
        ("010", 0, 8), ("0o17", 0, 15), ("0b101", 0, 5), ("0", 0, 0), ("1_000", 0, 1000), ("ff", 16, 255),
    ],
)
def test_go_parse_int(text: str, base: int, value: int) -> None:
    assert go_parse_int(text, base) == value


@pytest.mark.parametrize(
    ("text", "base"),
    [("", 10), (" 1", 10), ("1 ", 10), ("1.5", 10), ("0x", 0), ("12a", 10), ("9223372036854775808", 10),
     ("1_000", 10), ("٣", 10), ("08", 0)],
)
def test_go_parse_int_malformed(text: str, base: int) -> None:
    with pytest.raises(ValueError):
        go_parse_int(text, base)


def test_go_parse_uint_bits_and_sign() -> None:
    assert go_parse_uint("ffffffff", 16, 32) == 2**32 - 1
    assert go_parse_uint("18446744073709551615") == 2**64 - 1
    for bad in ("-1", "+1", "100000000"):
        with pytest.raises(ValueError):
            go_parse_uint(bad, 16, 32)


@pytest.mark.parametrize(
    ("text", "base", "bits", "value"),
    [("0", 10, 64, 0), ("007", 10, 64, 7), ("007", 0, 64, 7), ("4294967295", 10, 32, 2**32 - 1),
     ("4294967296", 10, 32, None), ("18446744073709551616", 10, 64, None), ("٣", 10, 64, None),
     ("²", 10, 64, None), ("08", 0, 64, None), ("9", 8, 64, None)],
)
def test_go_parse_uint_decimal_fast_path_keeps_go_rules(text: str, base: int, bits: int, value: int | None) -> None:
    if value is None:
        with pytest.raises(ValueError):
            go_parse_uint(text, base, bits)
    else:
        assert go_parse_uint(text, base, bits) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0.0), ("123", 123.0), ("1" * 299, float("1" * 299)), ("9" * 309, None), ("٣", None), ("1e309", None),
     ("-0x1p-1", -0.5), ("NaN", "nan"), ("-Inf", float("-inf")), ("0x1", None), ("1_0", None), (" 1", None)],
)
def test_go_parse_float(text: str, value: float | str | None) -> None:
    if value is None:
        with pytest.raises(ValueError):
            go_parse_float(text)
    elif value == "nan":
        assert math.isnan(go_parse_float(text))
    else:
        assert go_parse_float(text) == value


def test_read_text_keeps_bytes_as_asked(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"a\r\nb\xff\n")
    assert read_text(str(tmp_path / "f")) == "a\r\nb\ufffd\n"  # no newline translation
    assert read_text(str(tmp_path / "f"), errors="surrogateescape") == "a\r\nb\udcff\n"


@pytest.mark.timeout(10)
def test_read_bytes_stops_at_the_limit(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 70000 + b"tail")
    assert read_bytes(str(tmp_path / "f"), 1 << 32) == b"x" * 70000 + b"tail"
    assert read_bytes(str(tmp_path / "f"), 70002) == b"x" * 70000 + b"ta"
    assert read_bytes(str(tmp_path / "f"), 0) == b""


@pytest.mark.parametrize(("text", "value"), [("0x1003", 4099), ("1500", 1500), ("-1", -1), ("unknown", 0), ("", 0)])
def test_procfs_pint64_reads_malformed_as_zero(text: str, value: int) -> None:
    assert procfs_pint64(text) == value


def test_sys_read_file_reads_one_block_trimmed(tmp_path: Path) -> None:
    (tmp_path / "short").write_text("  up\n")
    (tmp_path / "long").write_text("x" * 300)
    assert sys_read_file(str(tmp_path / "short")) == "up"
    assert sys_read_file(str(tmp_path / "long")) == "x" * 128
    with pytest.raises(FileNotFoundError):
        sys_read_file(str(tmp_path / "missing"))


def test_regular_files_skips_links_and_directories(tmp_path: Path) -> None:
    (tmp_path / "b").write_text("1")
    (tmp_path / "a").write_text("1")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert regular_files(str(tmp_path)) == ["a", "b"]


def test_go_join_and_utf8() -> None:
    assert go_join("sys/", "class", "powercap") == "sys/class/powercap"
    assert go_join("./sys", "class") == "sys/class"
    assert to_valid_utf8(b"ok\xff".decode("utf-8", errors="surrogateescape")) == "ok\ufffd"


@pytest.mark.parametrize(
    ("raw", "text"),
    [(b"ok", "ok"), (b"a\xffb", "a\ufffdb"), (b"a\xff\xfe\xfdb", "a\ufffdb"), (b"\xff", "\ufffd"),
     (b"\xe2\x82", "\ufffd"), (b"x\xffy\xfez", "x\ufffdy\ufffdz"), ("é".encode(), "é")],
)
def test_to_valid_utf8_collapses_invalid_runs(raw: bytes, text: str) -> None:
    assert to_valid_utf8(raw.decode("utf-8", errors="surrogateescape")) == text


@pytest.mark.parametrize(("name", "valid"), [("node_netstat_Tcp_InSegs", True), ("node_a-b", False),
                                             ("node_\udcff", False), ("1abc", False), ("a:b_c", True)])
def test_valid_metric_name(name: str, valid: bool) -> None:
    assert valid_metric_name(name) is valid


def test_without_invalid_utf8_drops_only_bad_samples() -> None:
    family = GaugeMetricFamily("x", "h", labels=["l"])
    family.add_metric(["good"], 1)
    family.add_metric([b"bad\xff".decode("utf-8", errors="surrogateescape")], 2)
    kept = list(without_invalid_utf8([family], logging.getLogger("test"), "t"))
    assert [s.labels["l"] for m in kept for s in m.samples] == ["good"]


@pytest.mark.timeout(10)
def test_held_read_text_reads_the_file_anew(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 70000 + b"\xff\n")
    held = HeldFiles()
    path = str(tmp_path / "big")
    assert held.read_text(path) == read_text(path)  # more than one pread
    assert held.read_text(path, errors="surrogateescape") == "x" * 70000 + "\udcff\n"
    assert len(held) == 1
    (tmp_path / "big").write_text("7\n")  # in place, as a procfs or sysfs file changes
    assert held.read_uint(path) == 7
    held.close()
    assert len(held) == 0


@pytest.mark.timeout(10)
def test_held_read_text_of_procfs_is_current() -> None:
    held = HeldFiles()
    # rchar counts this process's reads, the last one included
    first = held.read_text("/proc/self/io").split("\n")[0]
    second = held.read_text("/proc/self/io").split("\n")[0]
    assert len(held) == 1
    assert first.startswith("rchar: ") and int(second.split()[1]) > int(first.split()[1])
    held.close()


@pytest.mark.timeout(10)
def test_held_read_text_error_is_a_fresh_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f").write_text("1\n")
    held = HeldFiles()
    assert held.read_text(str(tmp_path / "f")) == "1\n"
    (tmp_path / "f").unlink()
    real_pread = os.pread

    def removed(fd: int, size: int, offset: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")  # a procfs entry removed under its descriptor

    monkeypatch.setattr(os, "pread", removed)
    with pytest.raises(FileNotFoundError):
        held.read_text(str(tmp_path / "f"))
    assert len(held) == 0
    monkeypatch.setattr(os, "pread", real_pread)
    with pytest.raises(FileNotFoundError):
        held.read_text(str(tmp_path / "missing"))
    assert len(held) == 0


@pytest.mark.timeout(10)
def test_files_are_held_only_for_this_hosts_proc_and_sys(tmp_path: Path) -> None:
    specs = collector_specs()
    live = node_context(build_parser(specs).parse_args([]), specs)
    tree = node_context(build_parser(specs).parse_args([f"--path.procfs={tmp_path}"]), specs)
    assert live.files is not None and tree.files is None
    assert live.read_text(live.proc("loadavg")) and live.files is not None and len(live.files) == 1
