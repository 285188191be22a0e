"""nfs collector: /proc/net/rpc/nfs parsing and the procedure tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors.nfs import CLIENT_V4_PROCEDURES, NfsCollector, parse_client_stats
from tests.node.collected import samples, value
from tests.node.fake_host import make_context, write_tree

V3 = "proc3 22 " + " ".join(str(i) for i in range(22))


def test_parse_client_stats() -> None:
    stats = parse_client_stats(f"net 1 2 3 4\nrpc 5 6 7\n{V3}\nproc4 3 1 2 3\n")
    assert stats["net"] == [1, 2, 3, 4]
    assert stats["proc3"] == list(range(22))
    # an old kernel's short proc4 line is padded with zeros
    assert stats["proc4"] == [1, 2, 3] + [0] * (len(CLIENT_V4_PROCEDURES) - 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("net\n", "invalid NFS metric line"),
        ("net 1 2 3\n", "net"),
        ("rpc 1 2 3 4\n", "rpc"),
        ("proc3 22 1 2\n", "proc3"),  # count does not match
        ("proc2 3 1 2 3\n", "proc2"),  # fewer than 18 procedures
        ("proc4 2 1\n", "proc4"),
        ("net 1 2 -3 4\n", "invalid"),
        ("bogus 1\n", "unknown NFS metric line"),
    ],
)
def test_parse_client_stats_malformed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_client_stats(text)


def test_nfs_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, {"proc/net/rpc/nfs": f"net 0 11 12 13\nrpc 20 21 22\n{V3}\n"})
    found = samples(NfsCollector(make_context(tmp_path)).collect())
    assert value(found, "node_nfs_packets_total", protocol="udp") == 11
    assert value(found, "node_nfs_packets_total", protocol="tcp") == 12
    assert value(found, "node_nfs_connections_total") == 13
    assert value(found, "node_nfs_rpc_retransmissions_total") == 21
    assert value(found, "node_nfs_requests_total", proto="3", method="Commit") == 21
    assert value(found, "node_nfs_requests_total", proto="3", method="Null") == 0
    # versions the kernel does not list are reported as zeros, as node_exporter does
    assert value(found, "node_nfs_requests_total", proto="2", method="FsStat") == 0
    assert value(found, "node_nfs_requests_total", proto="4", method="Clone") == 0


def test_nfs_missing_file_is_no_data(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    with pytest.raises(NoDataError):
        list(NfsCollector(make_context(tmp_path)).collect())
