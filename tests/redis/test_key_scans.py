"""SCAN walks: one pattern's replies accounted (pure), and several patterns side by side on
one connection giving what separate walks give (a private Redis 7)."""

from __future__ import annotations

import logging
import time

import pytest

from exporters.redis.keys import KeyBudget, KeyScan, run_scans
from exporters.redis.resp import Connection, ReplyError, parse_address
from tests.redis.conftest import RedisServer, samples, scrape, value


def test_collecting_scan_keeps_distinct_names_and_follows_the_cursor() -> None:
    scan = KeyScan("0", b"k:*", 10, collect=True)
    assert scan.command() == ("SCAN", b"0", "MATCH", b"k:*", "COUNT", 10)
    assert scan.take([b"17", [b"k:1", b"k:2", b"k:1"]]) is True
    assert scan.command()[1] == b"17"
    assert scan.take([b"0", [b"k:2", b"k:3"]]) is False
    assert scan.names == [b"k:1", b"k:2", b"k:3"]
    assert scan.complete and not scan.interrupted and not scan.error


def test_counting_scan_counts_what_scan_returns() -> None:
    scan = KeyScan("0", b"k:*", 10, collect=False)
    assert scan.take([b"5", [b"a", b"b"]]) is True
    assert scan.take([b"0", [b"b"]]) is False
    assert scan.total == 3 and scan.names == [] and scan.complete


def test_collecting_scan_stops_at_its_limit() -> None:
    scan = KeyScan("0", b"k:*", 10, collect=True, limit=2)
    assert scan.take([b"5", [b"a", b"b", b"c"]]) is False
    assert scan.names == [b"a", b"b"] and scan.interrupted and not scan.complete


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (ReplyError("NOPERM no scan for you"), "NOPERM no scan for you"),
        ([b"0"], "invalid response from SCAN for pattern: k:*"),
        (b"OK", "invalid response from SCAN for pattern: k:*"),
    ],
)
def test_scan_error_replies(reply: object, error: str) -> None:
    scan = KeyScan("0", b"k:*", 10, collect=False)
    assert scan.take(reply) is False  # type: ignore[arg-type]
    assert scan.error == error and not scan.complete


def _keys_of(server: RedisServer, db: int, pattern: str) -> set[str]:
    return set(server.client(db).scan_iter(match=pattern, count=500))  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_scans_side_by_side_match_separate_walks(server_factory: object) -> None:
    server: RedisServer = server_factory("redis7")  # type: ignore[operator]
    for db, names in ((0, [f"a:{i}" for i in range(3000)] + [f"b:{i}" for i in range(1500)]),
                      (2, [f"c:{i}" for i in range(700)])):
        server.client(db).mset({name: "1" for name in names})  # type: ignore[attr-defined]
    scans = [
        KeyScan("0", b"a:1*", 100, collect=True),
        KeyScan("0", b"a:*", 100, collect=False),
        KeyScan("2", b"c:*", 50, collect=True),
        KeyScan("0", b"b:*", 300, collect=False),
        KeyScan("2", b"c:1?", 7, collect=False),
    ]
    with Connection.open(parse_address(server.url), 5.0) as conn:
        run_scans(conn, scans, KeyBudget(0, time.monotonic() + 30))
        assert conn.command("PING") == b"PONG"  # every reply was read: the stream is in step
    assert all(scan.complete and not scan.error for scan in scans)
    assert {n.decode() for n in scans[0].names} == _keys_of(server, 0, "a:1*") and len(scans[0].names) == 1111
    assert {n.decode() for n in scans[2].names} == _keys_of(server, 2, "c:*") and len(scans[2].names) == 700
    assert (scans[1].total, scans[3].total, scans[4].total) == (3000, 1500, 10)


def test_key_checks_with_patterns_and_counts_in_several_databases(server_factory: object) -> None:
    server: RedisServer = server_factory("redis7")  # type: ignore[operator]
    server.client(0).mset({f"u:{i}": str(i) for i in range(250)})  # type: ignore[attr-defined]
    server.client(3).mset({f"s:{i}": "x" for i in range(40)})  # type: ignore[attr-defined]
    fams = scrape(server.url, check_keys="u:2?,db3=s:1*", count_keys="u:*,db3=s:*,db5=none:*",
                  check_single_keys="u:7", check_keys_batch_size=20)
    assert value(fams, "redis_up") == 1
    assert value(fams, "redis_keys_count", db="db0", key="u:*") == 250
    assert value(fams, "redis_keys_count", db="db3", key="s:*") == 40
    assert value(fams, "redis_keys_count", db="db5", key="none:*") == 0
    checked = {(s.labels["db"], s.labels["key"]) for s in samples(fams, "redis_key_size")}  # type: ignore[attr-defined]
    expected = {("db0", "u:7")} | {("db0", f"u:2{i}") for i in range(10)} | {("db3", f"s:1{i}") for i in range(10)}
    expected.add(("db3", "s:1"))
    assert checked == expected
    assert value(fams, "redis_key_value", db="db0", key="u:25") == 25


def test_key_checks_when_scan_is_refused(server_factory: object, caplog: pytest.LogCaptureFixture) -> None:
    server: RedisServer = server_factory("redis7")  # type: ignore[operator]
    server.cli("ACL", "SETUSER", "noscan", "on", ">pw", "+@all", "-scan", "~*")
    server.client(0).set("k:1", "5")  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR):
        fams = scrape(server.url.replace("redis://", "redis://noscan:pw@"), check_keys="k:*",
                      check_single_keys="k:1", count_keys="k:*")
    assert value(fams, "redis_up") == 1
    assert value(fams, "redis_key_value", db="db0", key="k:1") == 5  # the single key is still checked
    assert value(fams, "redis_keys_count", db="db0", key="k:*") is None
    assert "error expanding key patterns" in caplog.text and "couldn't count keys" in caplog.text


def test_key_checks_in_batches_across_databases(server_factory: object) -> None:
    """More keys than one pipelined batch, databases alternating, every type, missing keys."""
    server: RedisServer = server_factory("redis7")  # type: ignore[operator]
    db0, db4 = server.client(0), server.client(4)
    singles: list[str] = []
    expected: dict[tuple[str, str], float] = {}
    for i in range(130):
        db0.set(f"s{i}", str(i))  # type: ignore[attr-defined]
        db4.rpush(f"l{i}", *range(i % 5 + 1))  # type: ignore[attr-defined]
        singles += [f"s{i}", f"db4=l{i}"]
        expected["db0", f"s{i}"] = len(str(i))
        expected["db4", f"l{i}"] = i % 5 + 1
    db4.pfadd("h", "a", "b", "c")  # type: ignore[attr-defined]
    db4.hset("m", mapping={"a": "1", "b": "2"})  # type: ignore[attr-defined]
    singles += ["db4=h", "db4=m", "gone", "db4=gone"]
    expected.update({("db4", "h"): 3, ("db4", "m"): 2, ("db0", "gone"): 0, ("db4", "gone"): 0})
    errors_before = server.cli("INFO", "errorstats")
    fams = scrape(server.url, check_single_keys=",".join(singles), max_checked_keys=0)
    sizes = {(s.labels["db"], s.labels["key"]): s.value for s in samples(fams, "redis_key_size")}  # type: ignore[attr-defined]
    assert sizes == expected
    values = {s.labels["key"]: s.value for s in samples(fams, "redis_key_value")}  # type: ignore[attr-defined]
    assert values == {f"s{i}": float(i) for i in range(130)}
    assert server.cli("INFO", "errorstats") == errors_before  # no WRONGTYPE from the checks
