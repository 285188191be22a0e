"""nfsd collector: /proc/net/rpc/nfsd parsing and v1.7.0's NFSv4 operation numbering."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors.nfsd import NfsdCollector, parse_server_stats
from tests.node.collected import samples, value
from tests.node.fake_host import make_context, write_tree

SERVER = (
    "rc 1 2 3\nfh 4 0 0 0 0\nio 5 6\nth 7 0 0.000 0.000\nra 8 0 0 0 0 0 0 0 0 0 0 9\nnet 10 11 12 13\n"
    "rpc 14 15 16 17 18\nproc4 2 19 20\n"
    "proc4ops 42 " + " ".join(str(100 + i) for i in range(42)) + "\nwdeleg_getattr 21\n"
)


def test_parse_server_stats() -> None:
    stats = parse_server_stats(SERVER)
    assert stats["th"] == [7, 0]
    assert stats["proc4ops"][:3] == [100, 101, 102]
    assert len(stats["proc4ops"]) == 40
    assert stats["wdeleg_getattr"] == [21]
    # a 2.5 kernel's 39 operations: no RELEASE_LOCKOWNER
    assert parse_server_stats("proc4ops 39 " + "1 " * 39)["proc4ops"][-1] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("th 8\n", "th"),
        ("rc 1 2\n", "rc"),
        ("proc4 3 1 2 3\n", "proc4"),
        ("proc4ops 38 " + "1 " * 38 + "\n", "proc4ops"),
        ("io 1 x\n", "invalid"),
        ("xx 1\n", "unknown NFSd metric line"),
    ],
)
def test_parse_server_stats_malformed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_server_stats(text)


def test_nfsd_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, {"proc/net/rpc/nfsd": SERVER})
    found = samples(NfsdCollector(make_context(tmp_path)).collect())
    assert value(found, "node_nfsd_reply_cache_nocache_total") == 3
    assert value(found, "node_nfsd_file_handles_stale_total") == 4
    assert value(found, "node_nfsd_disk_bytes_written_total") == 6
    assert value(found, "node_nfsd_server_threads") == 7
    assert value(found, "node_nfsd_read_ahead_cache_not_found_total") == 9
    assert value(found, "node_nfsd_packets_total", proto="tcp") == 12
    assert value(found, "node_nfsd_rpc_errors_total", error="cInt") == 18
    assert value(found, "node_nfsd_server_rpcs_total") == 14
    # v1.7.0's op numbering: SETCLIENTID is op 35, VERIFY 37, WRITE 38, RELEASE_LOCKOWNER 39
    assert value(found, "node_nfsd_requests_total", proto="4", method="Access") == 103
    assert value(found, "node_nfsd_requests_total", proto="4", method="SetClientID") == 135
    assert value(found, "node_nfsd_requests_total", proto="4", method="Verify") == 137
    assert value(found, "node_nfsd_requests_total", proto="4", method="Write") == 138
    assert value(found, "node_nfsd_requests_total", proto="4", method="RelLockOwner") == 139
    assert ("node_nfsd_requests_total", (("method", "PutPubFH"), ("proto", "4"))) not in found
    assert ("node_nfsd_requests_total", (("method", "Null"), ("proto", "3"))) not in found


def test_nfsd_missing_file_is_no_data(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    with pytest.raises(NoDataError):
        list(NfsdCollector(make_context(tmp_path)).collect())
