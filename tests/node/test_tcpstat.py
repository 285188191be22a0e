"""tcpstat: TCP socket states and queue sums from NETLINK_SOCK_DIAG."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from exporters.node.collectors import tcpstat
from tests.node.collected import samples
from tests.node.fake_host import make_context, write


def diag(state: int, rqueue: int = 0, wqueue: int = 0) -> bytes:
    return tcpstat.INET_DIAG_MSG.pack(socket.AF_INET, state, 0, 0, 0, rqueue, wqueue, 0, 0)


def test_parse_inet_diag() -> None:
    stats = tcpstat.parse_inet_diag([
        diag(10, rqueue=1, wqueue=128),  # listening: accept queue length and the listen backlog
        diag(1, rqueue=16), diag(1, wqueue=32), diag(6), diag(12),
        diag(1)[:40],  # shorter than inet_diag_msg: skipped
    ])
    assert stats == {"listen": 1, "established": 2, "time_wait": 1, "unknown": 1,
                     "rx_queued_bytes": 17, "tx_queued_bytes": 160}
    assert tcpstat.parse_inet_diag([]) == {}  # no socket: no series, as upstream


@pytest.mark.timeout(10)
def test_collect_counts_a_listen_backlog(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/tcp6", "")
    with socket.socket() as server, socket.socket(socket.AF_INET6) as server6:
        server.bind(("127.0.0.1", 0))
        server.listen(37)
        server6.bind(("::1", 0))
        server6.listen(41)
        # the rest of the host's sockets come and go: compare against a dump taken right after
        got = samples(tcpstat.TcpstatCollector(make_context(tmp_path)).collect())
        mine = [m for m in tcpstat.read_inet_diag(socket.AF_INET) + tcpstat.read_inet_diag(socket.AF_INET6)
                if tcpstat.INET_DIAG_MSG.unpack_from(m)[1] == 10]
    states = {dict(labels)["state"]: value for (_, labels), value in got.items()}
    assert states["listen"] >= 2 and len(mine) >= 2
    assert states["tx_queued_bytes"] >= 37 + 41


def test_ipv6_only_when_procfs_has_tcp6_and_added_to_ipv4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dumps: dict[int, list[bytes]] = {socket.AF_INET: [diag(1, wqueue=5), diag(10, rqueue=1, wqueue=128)],
             socket.AF_INET6: [diag(1, wqueue=7), diag(1), diag(6)]}
    asked: list[int] = []

    def fake_dump(family: int) -> list[bytes]:
        asked.append(family)
        return dumps[family]

    monkeypatch.setattr(tcpstat, "read_inet_diag", fake_dump)
    without = samples(tcpstat.TcpstatCollector(make_context(tmp_path)).collect())
    assert asked == [socket.AF_INET]
    write(tmp_path, "proc/net/tcp6", "")
    with_v6 = samples(tcpstat.TcpstatCollector(make_context(tmp_path)).collect())
    assert asked == [socket.AF_INET, socket.AF_INET, socket.AF_INET6]

    def state(got: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
        return got[("node_tcp_connection_states", (("state", name),))]

    assert state(without, "established") == 1 and state(without, "tx_queued_bytes") == 133
    # upstream adds the IPv6 counts to the IPv4 ones; replacing them would lose the IPv4 sockets
    assert state(with_v6, "established") == 3 and state(with_v6, "tx_queued_bytes") == 140
    assert state(with_v6, "listen") == 1 and state(with_v6, "time_wait") == 1
