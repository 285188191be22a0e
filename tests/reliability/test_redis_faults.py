"""Redis exporter against a private redis-server that the tests stop, hang, lock and flood."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningExporter
from tests.reliability.conftest import SLACK, HungPeer, PrivateRedis, record, require_exporter, scrape
from tests.reliability.launch import launch

pytestmark = pytest.mark.timeout(90)
PASSWORD = "Redis-Rel1ability-Secret-5523"


def start_redis_exporter(tmp_path: Path, addr: str, *args: str, env: dict[str, str] | None = None) -> RunningExporter:
    require_exporter("redis")
    return launch("redis", ["-redis.addr", addr, *args], tmp_path, env=env)


def test_server_stopped_then_restarted(tmp_path: Path, private_redis: PrivateRedis) -> None:
    exporter = start_redis_exporter(tmp_path, private_redis.addr)
    try:
        before = scrape(exporter.url + "/metrics")
        private_redis.stop()
        down = [scrape(exporter.url + "/metrics") for _ in range(2)]
        private_redis.start()
        back = scrape(exporter.url + "/metrics")
    finally:
        exporter.stop()
    assert before.value("redis_up") == 1
    for result in down:
        assert result.status == 200
        assert result.seconds < 3 + SLACK
        assert result.value("redis_up") == 0
        assert result.value("redis_connected_clients") is None
        assert result.value("redis_exporter_last_scrape_error") == 1
    assert back.value("redis_up") == 1
    assert back.value("redis_connected_clients") is not None
    record("redis stopped", scrape_seconds=max(r.seconds for r in down), redis_up=0)


def test_peer_that_never_answers(tmp_path: Path, hung_peer: HungPeer) -> None:
    exporter = start_redis_exporter(tmp_path, f"redis://127.0.0.1:{hung_peer.port}")
    try:
        results = [scrape(exporter.url + "/metrics", timeout=3) for _ in range(2)]
    finally:
        exporter.stop()
    assert hung_peer.accepted, "the exporter never connected to the silent peer"
    for result in results:
        assert result.status == 200
        assert result.seconds < 3 + SLACK
        assert result.value("redis_up") == 0
    record("redis hung peer", scrape_seconds=max(r.seconds for r in results), redis_up=0)


def test_peer_that_answers_garbage(tmp_path: Path, garbage_peer: HungPeer) -> None:
    """Something that is not Redis on the port: redis_up 0 in time, the exporter keeps serving."""
    exporter = start_redis_exporter(tmp_path, f"redis://127.0.0.1:{garbage_peer.port}")
    try:
        results = [scrape(exporter.url + "/metrics", timeout=3) for _ in range(2)]
    finally:
        exporter.stop()
    assert garbage_peer.accepted
    for result in results:
        assert result.status == 200
        assert result.seconds < 3 + SLACK
        assert result.value("redis_up") == 0
    record("redis garbage peer", scrape_seconds=max(r.seconds for r in results), redis_up=0)


def test_noauth_then_password_from_environment(tmp_path: Path, private_redis: PrivateRedis) -> None:
    client: Any = private_redis.client()
    client.config_set("requirepass", PASSWORD)
    without = start_redis_exporter(tmp_path, private_redis.addr)
    try:
        denied = scrape(without.url + "/metrics")
    finally:
        without.stop()
    assert denied.status == 200
    assert denied.seconds < 3 + SLACK
    assert denied.value("redis_up") == 0
    assert denied.value("redis_connected_clients") is None
    assert "NOAUTH" in without.log() or "auth" in without.log().lower()
    with_password = start_redis_exporter(tmp_path, private_redis.addr, env={"REDIS_PASSWORD": PASSWORD})
    try:
        allowed = scrape(with_password.url + "/metrics")
    finally:
        with_password.stop()
    assert allowed.value("redis_up") == 1
    assert PASSWORD not in allowed.text
    assert PASSWORD not in with_password.log()
    record("redis NOAUTH", scrape_seconds=denied.seconds, redis_up=0)


def test_acl_user_without_config_and_latency(tmp_path: Path, private_redis: PrivateRedis) -> None:
    client: Any = private_redis.client()
    client.execute_command("ACL", "SETUSER", "limited", "on", f">{PASSWORD}", "~*", "&*", "+@all",
                           "-config", "-latency")
    client.execute_command("CONFIG", "SET", "latency-monitor-threshold", "1")
    exporter = start_redis_exporter(tmp_path, private_redis.addr, "-redis.user", "limited",
                                    env={"REDIS_PASSWORD": PASSWORD})
    try:
        results = [scrape(exporter.url + "/metrics") for _ in range(2)]
    finally:
        exporter.stop()
    for result in results:
        assert result.status == 200
        assert result.seconds < 3 + SLACK
        assert result.value("redis_up") == 1
        assert result.value("redis_connected_clients") is not None
        assert result.value("redis_commands_processed_total") is not None
        # CONFIG GET is refused: the metrics it feeds are absent, nothing else is lost
        assert result.value("redis_config_maxclients") is None
        assert result.value("redis_config_maxmemory") is None
    log = exporter.log()
    assert PASSWORD not in log
    assert "Traceback" not in log
    record("redis ACL -config -latency", scrape_seconds=max(r.seconds for r in results), redis_up=1)


@pytest.mark.timeout(120)
def test_key_checks_on_a_huge_keyspace_stop_at_the_deadline(tmp_path: Path, private_redis: PrivateRedis) -> None:
    """300,000 keys all matching -check-keys, no key limit: the checks stop at the deadline."""
    client: Any = private_redis.client()
    total = 300_000
    for start in range(0, total, 20_000):
        client.mset({f"rel:{i}": "x" * 8 for i in range(start, start + 20_000)})
    assert client.dbsize() == total
    exporter = start_redis_exporter(tmp_path, private_redis.addr, "-check-keys", "rel:*",
                                    "-check-keys-limit", "0", "-check-keys-batch-size", "1000")
    try:
        results = [scrape(exporter.url + "/metrics", timeout=2) for _ in range(2)]
    finally:
        exporter.stop()
    for result in results:
        assert result.status == 200
        assert result.seconds < 2 + SLACK
        assert result.value("redis_up") == 1
        assert result.value("redis_db_keys", db="db0") == total
        assert result.value("redis_connected_clients") is not None
        # what was checked before the deadline is kept; the rest is skipped, never waited for
        assert len([s for s in result.samples() if s[0] == "redis_key_size"]) < total
    assert "stopped early" in exporter.log()
    checked = [len([s for s in r.samples() if s[0] == "redis_key_size"]) for r in results]
    # with the default -check-keys-limit (10,000) the SCAN stops early enough for checks to happen
    limited = start_redis_exporter(tmp_path, private_redis.addr, "-check-keys", "rel:*")
    try:
        bounded = scrape(limited.url + "/metrics", timeout=2)
    finally:
        limited.stop()
    bounded_checked = len([s for s in bounded.samples() if s[0] == "redis_key_size"])
    assert bounded.status == 200
    assert bounded.seconds < 2 + SLACK
    assert 0 < bounded_checked <= 10_000
    record("redis huge keyspace", scrape_seconds=max(r.seconds for r in results), keys_checked=checked,
           keys_total=total, default_limit_scrape_seconds=bounded.seconds, default_limit_keys_checked=bounded_checked)
