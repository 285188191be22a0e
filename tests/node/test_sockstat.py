"""sockstat: /proc/net/sockstat{,6} parsing and the mem_bytes conversion."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import sockstat
from tests.node.collected import samples, types
from tests.node.fake_host import make_context, write

SOCKSTAT = """sockets: used 229
TCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1
UDP: inuse 0 mem 2
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
"""
SOCKSTAT6 = """TCP6: inuse 17
UDP6: inuse 9
FRAG6: inuse 0 memory 0
"""


def test_parse_sockstat() -> None:
    stat = sockstat.parse_sockstat(SOCKSTAT)
    assert stat.used == 229
    tcp = stat.protocols[0]
    assert (tcp.protocol, tcp.inuse, tcp.optional) == ("TCP", 4, {"orphan": 0, "tw": 4, "alloc": 17, "mem": 1})
    assert [p.protocol for p in stat.protocols] == ["TCP", "UDP", "UDPLITE", "RAW", "FRAG"]
    assert sockstat.parse_sockstat("X: mem 3\n").protocols[0].inuse == 0  # inuse defaults to 0


@pytest.mark.parametrize("text", ["TCP: inuse\n", "TCP:\n", "TCP: inuse 1 tw\n", "TCP: inuse x\n", "TCP: inuse 1.5\n"])
def test_parse_sockstat_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        sockstat.parse_sockstat(text)


def test_collect(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/sockstat", SOCKSTAT)
    write(tmp_path, "proc/net/sockstat6", SOCKSTAT6)
    metrics = list(sockstat.SockstatCollector(make_context(tmp_path), page_size=4096).collect())
    got = {name: value for (name, _), value in samples(metrics).items()}
    assert got["node_sockstat_sockets_used"] == 229
    assert got["node_sockstat_TCP_mem_bytes"] == 4096 and got["node_sockstat_UDP_mem_bytes"] == 8192
    assert got["node_sockstat_FRAG_memory"] == 0 and got["node_sockstat_TCP6_inuse"] == 17
    assert "node_sockstat_UDPLITE_mem" not in got
    assert set(types(metrics).values()) == {"gauge"}
    assert len(got) == 18


def test_missing_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/sockstat6", SOCKSTAT6)
    got = samples(sockstat.SockstatCollector(make_context(tmp_path), page_size=4096).collect())
    assert {name for name, _ in got} == {"node_sockstat_TCP6_inuse", "node_sockstat_UDP6_inuse",
                                         "node_sockstat_FRAG6_inuse", "node_sockstat_FRAG6_memory"}
