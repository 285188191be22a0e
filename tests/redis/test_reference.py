"""Side by side with the reference redis_exporter (Debian's 1.45.0) against the same server.

Both exporters scrape one private server loaded with data in two databases, expiring
keys, a HyperLogLog, a stream with a consumer group, one slowlog entry and a replica.
Every family both emit must have the same type, help and label names, and for the fields
that do not move between two scrapes the same values. Families only one of them emits must
be listed in version_differences.py with the reason.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningExporter, free_port, reference_binary, start_exporter, wait_http
from tests.redis.conftest import RedisServer, load_data, wait_until
from tests.redis.version_differences import (
    DELIBERATE,
    HELP_DIFFERENCES,
    LABEL_DIFFERENCES,
    ONLY_IN_OURS,
    ONLY_IN_REFERENCE,
    VALUE_DIFFERENCES,
)

KINDS = ["redis7", "redis62", "valkey81"]
FLAGS = [
    "-check-single-keys", "plain,word,list,set,zset,hash,hll,missing,db3=session:a",
    "-check-keys", "user:*",
    "-check-single-streams", "events",
    "-count-keys", "user:*,db3=session:*",
    "-include-config-metrics",
    "-ping-on-connect",
    "-check-key-groups", "^(user):,^(session):,^(%a+)$",
    "-max-distinct-key-groups", "4",
]
# Families whose values do not change between two scrapes a moment apart.
STABLE = {
    "redis_up", "redis_db_keys", "redis_db_keys_expiring", "redis_config_maxclients", "redis_config_maxmemory",
    "redis_config_io_threads", "redis_config_value", "redis_config_key_value", "redis_key_size",
    "redis_key_value", "redis_key_value_as_string", "redis_keys_count", "redis_stream_length",
    "redis_stream_groups", "redis_stream_last_generated_id", "redis_stream_radix_tree_keys",
    "redis_stream_radix_tree_nodes", "redis_stream_group_consumers", "redis_stream_group_messages_pending",
    "redis_stream_group_last_delivered_id", "redis_stream_group_consumer_messages_pending",
    "redis_connected_slaves", "redis_slowlog_length", "redis_slowlog_last_id", "redis_instance_info",
    "redis_cluster_enabled", "redis_aof_enabled", "redis_memory_max_bytes", "redis_process_id",
    "redis_replication_backlog_bytes", "redis_rdb_last_bgsave_status", "redis_exporter_last_scrape_error",
    "redis_master_link_up", "redis_slave_info", "redis_master_sync_in_progress",
    "redis_key_group_count", "redis_key_group_memory_usage_bytes", "redis_number_of_distinct_key_groups",
    "redis_sentinel_masters", "redis_sentinel_master_status", "redis_sentinel_master_slaves",
    "redis_sentinel_master_sentinels", "redis_sentinel_master_ok_slaves", "redis_sentinel_master_ok_sentinels",
    "redis_sentinel_master_ckquorum_status", "redis_sentinel_master_setting_ckquorum",
    "redis_sentinel_master_setting_failover_timeout", "redis_sentinel_master_setting_parallel_syncs",
    "redis_sentinel_master_setting_down_after_milliseconds", "redis_sentinel_tilt",
}
# Stable up to the second in which each exporter reads the clock.
TOLERANCE = {"redis_start_time_seconds": 2.0}


@pytest.fixture(scope="module", params=KINDS)
def loaded(request: pytest.FixtureRequest, server_factory: object) -> Iterator[RedisServer]:
    primary: RedisServer = server_factory(request.param, "--repl-diskless-sync-delay", "0")  # type: ignore[operator]
    load_data(primary)
    replica: RedisServer = server_factory(request.param, "--replicaof", "127.0.0.1", str(primary.port))  # type: ignore[operator]
    assert wait_until(lambda: b"master_link_status:up" in replica.cli("INFO", "replication"), 15)
    assert wait_until(lambda: b"state=online" in primary.cli("INFO", "replication"), 15)
    yield primary


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=20) as response:
        return str(response.read().decode())


def _families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text) if f.name.startswith("redis_")}


def _reference(tmp_path: object, url: str, flags: list[str] = FLAGS) -> str:
    import subprocess

    binary = reference_binary("redis")
    port = free_port()
    proc = subprocess.Popen([binary, "-web.listen-address", f"127.0.0.1:{port}", "-redis.addr", url, *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=proc)
        return _get(f"http://127.0.0.1:{port}/metrics")
    finally:
        proc.terminate()
        proc.wait(10)


def _ours(tmp_path: object, url: str, flags: list[str] = FLAGS) -> str:
    running: RunningExporter = start_exporter("redis", ["-redis.addr", url, *flags], tmp_path)  # type: ignore[arg-type]
    try:
        return _get(f"{running.url}/metrics")
    finally:
        running.stop()


def compare(ours: dict[str, object], reference: dict[str, object]) -> list[str]:
    """Every difference between the two scrapes that version_differences.py does not explain."""
    problems: list[str] = []

    for name in sorted(set(ours) - set(reference)):
        if name not in ONLY_IN_OURS:
            problems.append(f"{name}: only in ours and not listed in ONLY_IN_OURS")
    for name in sorted(set(reference) - set(ours)):
        if name not in ONLY_IN_REFERENCE:
            problems.append(f"{name}: only in the reference and not listed in ONLY_IN_REFERENCE")
    for name in sorted(set(ours) & set(reference)):
        mine, theirs = ours[name], reference[name]
        if mine.documentation != theirs.documentation and name not in HELP_DIFFERENCES:  # type: ignore[attr-defined]
            problems.append(f"{name}: help {mine.documentation!r} != {theirs.documentation!r}")  # type: ignore[attr-defined]
        if mine.type != theirs.type:  # type: ignore[attr-defined]
            problems.append(f"{name}: type {mine.type} != reference {theirs.type}")  # type: ignore[attr-defined]
        my_labels = {tuple(sorted(s.labels)) for s in mine.samples}  # type: ignore[attr-defined]
        their_labels = {tuple(sorted(s.labels)) for s in theirs.samples}  # type: ignore[attr-defined]
        if my_labels != their_labels and name not in LABEL_DIFFERENCES:
            problems.append(f"{name}: label names {my_labels} != reference {their_labels}")
        if (name in STABLE or name in TOLERANCE) and name not in VALUE_DIFFERENCES:
            tolerance = TOLERANCE.get(name, 0.0)
            my_values = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in mine.samples}  # type: ignore[attr-defined]
            their_values = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in theirs.samples}  # type: ignore[attr-defined]
            if set(my_values) != set(their_values):
                problems.append(f"{name}: series {sorted(set(my_values) ^ set(their_values))[:4]} differ")
            for key in set(my_values) & set(their_values):
                if abs(my_values[key] - their_values[key]) > tolerance:
                    problems.append(f"{key}: {my_values[key]} != reference {their_values[key]}")
    return problems


@pytest.mark.timeout(90)
def test_side_by_side(loaded: RedisServer, tmp_path: object) -> None:
    reference = _families(_reference(tmp_path, loaded.url))
    ours = _families(_ours(tmp_path, loaded.url))
    problems = compare(ours, reference)
    assert not problems, "\n".join(problems)
    # the comparison compared something: the families every server has
    for name in ("redis_up", "redis_db_keys", "redis_key_size", "redis_stream_length", "redis_connected_slaves",
                 "redis_commands", "redis_instance_info", "redis_slowlog_length", "redis_key_group_count",
                 "redis_number_of_distinct_key_groups"):
        assert name in ours and name in reference, name
    groups = {s.labels["key_group"] for s in ours["redis_key_group_count"].samples  # type: ignore[attr-defined]
              if s.labels["db"] == "db0"}
    assert "user" in groups and "overflow" in groups and len(groups) == 5


@pytest.mark.timeout(90)
def test_side_by_side_script_and_client_list(server_factory: object, tmp_path: Path) -> None:
    server: RedisServer = server_factory("redis7")  # type: ignore[operator]
    script = tmp_path / "collect.lua"
    script.write_text("return {'answer', '42'}")
    flags = ["-script", str(script), "-export-client-list"]
    reference = _families(_reference(tmp_path, server.url, flags))
    ours = _families(_ours(tmp_path, server.url, flags))
    assert not compare(ours, reference)
    for name in ("redis_script_values", "redis_connected_clients_details"):
        assert name in ours and name in reference, name
    mine = {tuple(sorted(s.labels)) for s in ours["redis_script_values"].samples}  # type: ignore[attr-defined]
    assert mine == {("filename", "key")}


def test_version_differences_are_explained() -> None:
    for table in (ONLY_IN_OURS, ONLY_IN_REFERENCE, VALUE_DIFFERENCES, LABEL_DIFFERENCES, HELP_DIFFERENCES,
                  DELIBERATE):
        for name, reason in table.items():
            assert name.startswith("redis_") and len(reason) > 20, name


@pytest.fixture
def sentinel(server_factory: object, tmp_path: Path) -> Iterator[int]:
    """A Sentinel (redis-server --sentinel) watching a private primary with a replica."""
    import subprocess
    import time

    from tests.redis.conftest import send, server_binary

    primary: RedisServer = server_factory("redis7", "--repl-diskless-sync-delay", "0")  # type: ignore[operator]
    server_factory("redis7", "--replicaof", "127.0.0.1", str(primary.port))  # type: ignore[operator]
    assert wait_until(lambda: b"state=online" in primary.cli("INFO", "replication"), 15)
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                      f"sentinel monitor mymaster 127.0.0.1 {primary.port} 1\n")
    proc = subprocess.Popen([server_binary("redis7"), str(config), "--sentinel"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def ready() -> bool:
            try:
                return b"slaves=1" in send(port, "INFO", "sentinel")
            except OSError:
                return False

        assert wait_until(ready, 15)
        time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.timeout(90)
def test_side_by_side_sentinel(sentinel: int, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{sentinel}"
    reference = _families(_reference(tmp_path, url, []))
    ours = _families(_ours(tmp_path, url, []))
    assert not compare(ours, reference)
    from tests.redis.conftest import value

    assert value(ours, "redis_up") == 1
    assert value(ours, "redis_sentinel_masters") == 1
    assert value(ours, "redis_sentinel_master_status", master_name="mymaster", master_status="ok") == 1
    assert value(ours, "redis_sentinel_master_slaves", master_name="mymaster") == 1
    assert value(ours, "redis_sentinel_master_ok_slaves", master_name="mymaster") == 1
    assert value(ours, "redis_sentinel_master_ok_sentinels", master_name="mymaster") == 1
    assert value(ours, "redis_sentinel_master_ckquorum_status", master_name="mymaster") == 1
    assert value(ours, "redis_sentinel_master_setting_ckquorum", master_name="mymaster") == 1
    assert value(ours, "redis_sentinel_master_setting_down_after_milliseconds", master_name="mymaster") == 30000
    for name in ("redis_sentinel_master_status", "redis_sentinel_master_ok_slaves", "redis_sentinel_masters"):
        assert name in reference, name
