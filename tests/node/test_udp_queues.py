"""udp_queues: /proc/net/udp{,6} socket lines and queue sums."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import udp_queues
from tests.node.collected import collect_partial, samples
from tests.node.fake_host import make_context, write

HEADER = ("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref"
          " pointer drops\n")
UDP = HEADER + (
    "  412: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 16012 2 0 0\n"
    "  993: 3500007F:0035 00000000:0000 07 00000C40:00000A80 00:00000000 00000000   101        0 16390 2 0 0\n"
)
UDP6 = HEADER + (
    "  100: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000010:00000020"
    " 00:00000000 00000000     0        0 17000 2 0 0\n"
)


def test_parse_socket_summary() -> None:
    assert udp_queues.parse_socket_summary(UDP) == (0xC40, 0xA80, 2)
    assert udp_queues.parse_socket_summary(HEADER) == (0, 0, 0)


@pytest.mark.parametrize(
    "line",
    [
        "  1: 00000000:0044 00000000:0000 07",  # fewer than 10 columns
        "  1 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1",  # sl without colon
        "  1: 0000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1",  # 7 hex digits
        "  1: 00000000:0044 00000000:0000 07 00000000-00000000 00:00000000 00000000 0 0 1",  # no queue colon
        "  1: 00000000:0044 00000000:0000 07 0000000g:00000000 00:00000000 00000000 0 0 1",
        "  1: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000 x 0 1",  # uid
        "  1: 00000000:zzzz 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1",  # port
    ],
)
def test_parse_socket_line_malformed(line: str) -> None:
    with pytest.raises(ValueError):
        udp_queues.parse_socket_summary(HEADER + line + "\n")


def test_collect(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/udp", UDP)
    write(tmp_path, "proc/net/udp6", UDP6)
    got = samples(udp_queues.UdpQueuesCollector(make_context(tmp_path)).collect())
    assert got[("node_udp_queues", (("ip", "v4"), ("queue", "tx")))] == 3136
    assert got[("node_udp_queues", (("ip", "v4"), ("queue", "rx")))] == 2688
    assert got[("node_udp_queues", (("ip", "v6"), ("queue", "rx")))] == 32
    assert len(got) == 4


def test_collect_ipv6_only_and_none(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/udp6", UDP6)
    got = samples(udp_queues.UdpQueuesCollector(make_context(tmp_path)).collect())
    assert {dict(labels)["ip"] for _, labels in got} == {"v6"}
    with pytest.raises(NoDataError):
        list(udp_queues.UdpQueuesCollector(make_context(tmp_path / "empty")).collect())


def test_bad_udp6_keeps_ipv4(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/udp", UDP)
    write(tmp_path, "proc/net/udp6", HEADER + "garbage\n")
    got, err = collect_partial(udp_queues.UdpQueuesCollector(make_context(tmp_path)))
    assert isinstance(err, ValueError)
    assert {dict(labels)["ip"] for _, labels in samples(got)} == {"v4"}


@pytest.mark.timeout(10)
def test_carriage_returns_read_as_a_text_mode_open(tmp_path: Path) -> None:
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    line = "   0: 00000000:0044 00000000:0000 07 00000010:00000020 00:00000000 00000000     0        0 1 2"
    write(tmp_path, "proc/net/udp", f"{header}\r\n{line}\r{line}\n")
    collector = udp_queues.UdpQueuesCollector(make_context(tmp_path))
    assert collector.read("udp") == f"{header}\n{line}\n{line}\n"
    assert udp_queues.parse_socket_summary(collector.read("udp") or "") == (0x20, 0x40, 2)
