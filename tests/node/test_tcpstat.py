"""tcpstat: TCP socket states and queue sums from /proc/net/tcp{,6}."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import tcpstat
from tests.node.collected import samples
from tests.node.fake_host import make_context, write

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
TCP = HEADER + (
    "   0: 0100007F:6448 00000000:0000 0A 00000000:00000003 00:00000000 00000000   106        0 7269 1 0 100 0 0\n"
    "   1: 0100007F:9C40 0100007F:1538 01 00000010:00000000 00:00000000 00000000     0        0 7270 1 0 100 0 0\n"
    "   2: 0100007F:9C41 0100007F:1538 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0\n"
    "   3: 0100007F:9C42 0100007F:1538 01 00000020:00000001 00:00000000 00000000     0        0 7271 1 0 100 0 0\n"
)
TCP6 = HEADER + (
    "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000"
    " 00:00000000 00000000     0        0 1400 1 0 100 0 0\n"
    "   1: 00000000000000000000000001000000:0016 00000000000000000000000001000000:D0B4 0C 00000000:00000000"
    " 00:00000000 00000000     0        0 1401 1 0 100 0 0\n"
)


def test_parse_tcp() -> None:
    stats = tcpstat.parse_tcp(TCP)
    assert stats["established"] == 2 and stats["listen"] == 1 and stats["time_wait"] == 1
    assert stats["tx_queued_bytes"] == 0x30 and stats["rx_queued_bytes"] == 4


@pytest.mark.parametrize("line", ["   0: 0100007F:6448 00000000:0000 0A", "   0: x:y z:w 0A 0:0 0 0 0 0 0"])
def test_parse_tcp_malformed(line: str) -> None:
    with pytest.raises(ValueError):
        tcpstat.parse_tcp(HEADER + line + "\n")


def test_collect_sums_ipv4_and_ipv6(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/tcp", TCP)
    write(tmp_path, "proc/net/tcp6", TCP6)
    got = samples(tcpstat.TCPStatCollector(make_context(tmp_path)).collect())
    state = {dict(labels)["state"]: value for (_, labels), value in got.items()}
    assert state["listen"] == 2 and state["established"] == 2
    assert state["unknown"] == 1  # state 0x0C is not a TCP state upstream names
    assert tcpstat.SPEC.enabled_by_default is False


def test_collect_without_ipv6(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/tcp", TCP)
    got = samples(tcpstat.TCPStatCollector(make_context(tmp_path)).collect())
    assert got[("node_tcp_connection_states", (("state", "listen"),))] == 1
    with pytest.raises(FileNotFoundError):
        list(tcpstat.TCPStatCollector(make_context(tmp_path / "none")).collect())
