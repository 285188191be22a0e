"""Table-driven tests of the pure INFO parsers, malformed input included."""

from __future__ import annotations

import pytest

from exporters.redis.cluster import SlotRange, parse_cluster_slots
from exporters.redis.info import (
    INFO_FIELDS,
    CommandStat,
    KeyspaceStats,
    SlaveInfo,
    parse_cluster_info,
    parse_commandstat,
    parse_errorstat,
    parse_info,
    parse_keyspace,
    parse_latencystat,
    parse_slave,
    parse_value,
)
from exporters.redis.key_groups import KeyGroup, parse_key_groups, top_groups
from exporters.redis.keys import DbKey, label_text, parse_key_arg, stream_id_ms
from exporters.redis.replies import (
    CommandHistogram,
    LatencyEvent,
    parse_client_line,
    parse_latency_histogram,
    parse_latency_latest,
    parse_slowlog_last,
    total_usec,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:12\r\n",
         [("Server", "redis_version", "7.0.15"), ("Server", "uptime_in_seconds", "12")]),
        # value containing ':' keeps everything after the first colon
        ("# Server\nexecutable:/a:b\n", [("Server", "executable", "/a:b")]),
        # lines without a colon and blank lines are skipped; a section header resets the section
        ("garbage\n\n# Keyspace\ndb0:keys=1,expires=0,avg_ttl=0\n#notaheader\n",
         [("Keyspace", "db0", "keys=1,expires=0,avg_ttl=0")]),
        ("x:1", [("", "x", "1")]),
        ("", []),
    ],
)
def test_parse_info(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(line.section, line.key, line.value) for line in parse_info(text)] == expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("db0", "keys=10,expires=2,avg_ttl=3500", KeyspaceStats(10, 2, 3.5, None)),
        ("db15", "keys=1,expires=0", KeyspaceStats(1, 0, None, None)),
        ("db1", "keys=5,expires=1,avg_ttl=0,cached_keys=4", KeyspaceStats(5, 1, 0.0, 4)),
        # Redis 7.4 / Valkey: extra named fields are not mistaken for cached_keys
        ("db2", "keys=3,expires=1,avg_ttl=10,subexpiry=0", KeyspaceStats(3, 1, 0.01, None)),
        ("db0", "keys=abc,expires=0", None),
        ("db0", "keys=1", None),
        ("db0", "keys=1,expires", None),
        ("db0", "keys=1,expires=0,avg_ttl=x", None),
        ("dbx", "keys=1,expires=0", None),
        ("cmdstat_get", "keys=1,expires=0", None),
        ("db0", "", None),
    ],
)
def test_parse_keyspace(key: str, value: str, expected: KeyspaceStats | None) -> None:
    assert parse_keyspace(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("cmdstat_get", "calls=21,usec=175,usec_per_call=8.33", CommandStat("get", 21, 175)),
        ("cmdstat_set", "calls=61,usec=3139,usec_per_call=51.46,rejected_calls=1,failed_calls=2",
         CommandStat("set", 61, 3139, 1, 2)),
        ("cmdstat_config|get", "calls=1,usec=500,usec_per_call=500.00,rejected_calls=0,failed_calls=0",
         CommandStat("config|get", 1, 500, 0, 0)),
        ("cmdstat_get", "calls=x,usec=1,usec_per_call=1", None),
        ("cmdstat_get", "calls=1", None),
        ("cmdstat_get", "calls=1,usec=2,usec_per_call=2,rejected_calls=z,failed_calls=0", None),
        ("cmdstat_", "calls=1,usec=2,usec_per_call=2", None),
        ("get", "calls=1,usec=2,usec_per_call=2", None),
        ("cmdstat_get", "garbage", None),
    ],
)
def test_parse_commandstat(key: str, value: str, expected: CommandStat | None) -> None:
    assert parse_commandstat(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("latency_percentiles_usec_ping", "p50=0.001,p99=1.003,p99.9=3.007",
         ("ping", {50.0: 0.001, 99.0: 1.003, 99.9: 3.007})),
        ("latency_percentiles_usec_config|get", "p50=8.031", ("config|get", {50.0: 8.031})),
        ("latency_percentiles_usec_get", "p50=x", None),
        ("latency_percentiles_usec_get", "q50=1", None),
        ("latency_percentiles_usec_get", "", None),
        ("latency_percentiles_usec_", "p50=1", None),
        ("errorstat_ERR", "count=1", None),
    ],
)
def test_parse_latencystat(key: str, value: str, expected: tuple[str, dict[float, float]] | None) -> None:
    assert parse_latencystat(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("errorstat_ERR", "count=4", ("ERR", 4.0)),
        ("errorstat_WRONGTYPE", "count=12", ("WRONGTYPE", 12.0)),
        ("errorstat_ERR", "count=x", None),
        ("errorstat_ERR", "total=1", None),
        ("errorstat_", "count=1", None),
        ("ERR", "count=1", None),
    ],
)
def test_parse_errorstat(key: str, value: str, expected: tuple[str, float] | None) -> None:
    assert parse_errorstat(key, value) == expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("slave0", "ip=10.254.11.1,port=6379,state=online,offset=1751844676,lag=0",
         SlaveInfo("10.254.11.1", "6379", "online", 1751844676, 0)),
        ("slave12", "ip=::1,port=7000,state=wait_bgsave,offset=0,lag=3",
         SlaveInfo("::1", "7000", "wait_bgsave", 0, 3)),
        # before Redis 3.0 there is no lag
        ("slave1", "ip=10.0.0.1,port=6379,state=online,offset=5", SlaveInfo("10.0.0.1", "6379", "online", 5, None)),
        ("slave0", "ip=10.0.0.1,port=6379,state=online,offset=x,lag=0", None),
        ("slave0", "ip=10.0.0.1,port=6379,state=online,offset=1,lag=x", None),
        ("slave0", "ip=10.0.0.1,port", None),
        ("slave_repl_offset", "123", None),
        ("master_host", "10.0.0.1", None),
    ],
)
def test_parse_slave(key: str, value: str, expected: SlaveInfo | None) -> None:
    assert parse_slave(key, value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12.0), ("-1", -1.0), ("1.5e3", 1500.0), ("0.75", 0.75),
        ("ok", 1.0), ("true", 1.0), ("err", 0.0), ("fail", 0.0), ("false", 0.0),
        ("up", None), ("", None), ("1_000", None), ("abc", None),
    ],
)
def test_parse_value(text: str, expected: float | None) -> None:
    assert parse_value(text) == expected


def test_parse_cluster_info() -> None:
    text = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\nbroken\r\na:b:c\r\n\r\n"
    assert parse_cluster_info(text) == [("cluster_state", "ok"), ("cluster_slots_assigned", "16384")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("a", [DbKey("0", b"a")]),
        ("db3=sessions:*,key", [DbKey("3", b"sessions:*"), DbKey("0", b"key")]),
        ("3=x, db1 = y ", [DbKey("3", b"x"), DbKey("1", b"y")]),
        ("a%2Cb,c+d", [DbKey("0", b"a,b"), DbKey("0", b"c d")]),
        ("a,,b,db1=", [DbKey("0", b"a"), DbKey("0", b"b")]),
        ("bin%00%FF,%E2%82%AC", [DbKey("0", b"bin\x00\xff"), DbKey("0", "€".encode())]),
    ],
)
def test_parse_key_arg(text: str, expected: list[DbKey]) -> None:
    assert parse_key_arg(text) == expected


@pytest.mark.parametrize(
    ("raw", "label"),
    [(b"plain", "plain"), ("€".encode(), "€"), (b"a\x00b", "a\\x00b"), (b"\xff\xfe:x", "\\xff\\xfe:x"),
     (b"nl\n\"q", "nl\n\"q")],
)
def test_label_text_keeps_text_and_escapes_nul_and_non_utf8(raw: bytes, label: str) -> None:
    assert label_text(raw) == label


@pytest.mark.parametrize("text", ["a=b=c", "dbx=key", "-1=key"])
def test_parse_key_arg_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_key_arg(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1526569495631-0", 1526569495631.0), ("0-0", 0.0), ("", 0.0), ("x-1", 0.0), ("17", 17.0)],
)
def test_stream_id_ms(text: str, expected: float) -> None:
    assert stream_id_ms(text) == expected


def test_parse_client_line() -> None:
    line = ("id=14 addr=[::1]:64958 laddr=[::1]:6379 fd=9 name=app age=5 idle=2 flags=N db=3 sub=0 psub=0 "
            "multi=-1 qbuf=26 omem=0 events=r cmd=client|list user=default resp=2")
    client = parse_client_line(line, now=1000)
    assert client is not None
    assert client["host"] == "[::1]" and client["port"] == "64958"
    assert client["created_at"] == "995" and client["idle_since"] == "998"
    assert client["db"] == "3" and client["cmd"] == "client|list" and client["name"] == "app"
    assert parse_client_line("id=1 addr=1.2.3.4:5 age=x", 0) is None
    assert parse_client_line("garbage", 0) is None


def test_info_table_is_one_row_per_field() -> None:
    metrics = [row.metric for row in INFO_FIELDS.values()]
    # several fields may not share one metric name, or a scrape would emit duplicates
    assert len(metrics) == len(set(metrics))
    assert INFO_FIELDS["latest_fork_usec"].metric == "latest_fork_seconds"
    assert INFO_FIELDS["latest_fork_usec"].divisor == 1e6
    assert INFO_FIELDS["total_connections_received"].type == "counter"
    assert INFO_FIELDS["migrate_cached_sockets"].type == "gauge"  # a gauge named *_total upstream


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("^(user):,^(session):", ["^(user):", "^(session):"]),
        ('"^(a),(b)", ^(c) ,,', ["^(a),(b)", "^(c)"]),
    ],
)
def test_parse_key_groups(text: str, expected: list[str]) -> None:
    assert parse_key_groups(text) == expected


def test_top_groups_overflow() -> None:
    groups = {name: KeyGroup(name, count, memory) for name, count, memory in
              [("a", 1, 100), ("b", 5, 50), ("c", 2, 50), ("d", 9, 10), ("e", 1, 10)]}
    shown, rest = top_groups(groups, 3)
    # by memory, then fewer keys first, then name
    assert [g.name for g in shown] == ["a", "c", "b"]
    assert rest == KeyGroup("overflow", 10, 20)
    shown, rest = top_groups(groups, 5)
    assert len(shown) == 5 and rest is None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ([[b"command", 1700000000, 25, 40], [b"fork", 1700000001, 3, 3]],
         [LatencyEvent("command", 1700000000, 0.025), LatencyEvent("fork", 1700000001, 0.003)]),
        ([], []),
        (None, []),
        ([[b"command", b"x", 25, 40], [b"short", 1], b"flat", [5, 1, 2, 3]], []),
    ],
)
def test_parse_latency_latest(reply: object, expected: list[LatencyEvent]) -> None:
    assert parse_latency_latest(reply) == expected  # type: ignore[arg-type]


def test_parse_latency_histogram() -> None:
    reply = [
        b"set", [b"calls", 3, b"histogram_usec", [1, 1, 2, 2, 16, 3]],
        b"get", [b"calls", 1, b"histogram_usec", []],
        b"bad", [b"calls", b"x", b"histogram_usec", [1, 1]],
        b"odd",
    ]
    assert parse_latency_histogram(reply) == [  # type: ignore[arg-type]
        CommandHistogram("set", 3, {1.0: 1, 2.0: 2, 16.0: 3}),
        CommandHistogram("get", 1, {}),
    ]
    assert parse_latency_histogram(None) == []


def test_total_usec_counts_prefix_matches_as_upstream() -> None:
    stats = {"get": "calls=1,usec=10,usec_per_call=10", "getrange": "calls=1,usec=5,usec_per_call=5",
             "set": "calls=1,usec=7,usec_per_call=7", "config|get": "calls=1,usec=100,usec_per_call=100"}
    assert total_usec(stats, "get") == 15
    assert total_usec(stats, "config|get") == 100
    assert total_usec(stats, "missing") == 0


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ([[12, 1700000000, 2500, [b"DEBUG", b"SLEEP"]]], (12.0, 0.0025)),
        ([], (0.0, 0.0)),
        (None, (0.0, 0.0)),
        ([[7]], (7.0, 0.0)),
        ([[b"x", 1, b"y"]], (0.0, 0.0)),
    ],
)
def test_parse_slowlog_last(reply: object, expected: tuple[float, float]) -> None:
    assert parse_slowlog_last(reply) == expected  # type: ignore[arg-type]


def test_parse_cluster_slots() -> None:
    reply = [
        [0, 5460, [b"127.0.0.1", 7000, b"id1"], [b"127.0.0.1", 7003, b"id4"]],
        [5461, 10922, [b"", 7001, b"id2"]],
        [10923, 16383, [b"10.0.0.3", b"x"]],
        [1, 2],
        b"garbage",
    ]
    assert parse_cluster_slots(reply) == [SlotRange(0, 5460, "127.0.0.1", 7000), SlotRange(5461, 10922, "", 7001)]  # type: ignore[arg-type]
    assert parse_cluster_slots(None) == []
