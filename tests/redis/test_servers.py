"""The scrape against real servers: Redis 7 (this machine's), Redis 6.2 and Valkey 8.1,
each private on a free port, loaded with data, with a replica attached."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters.redis.scrape import LogOnce
from tests.redis.conftest import (
    EXPECTED_VERSION_PREFIX,
    RedisServer,
    load_data,
    samples,
    scrape,
    value,
    wait_until,
)

KINDS = ["redis7", "redis62", "valkey81"]
KEY_CHECKS = {
    "check_single_keys": "plain,word,list,set,zset,hash,hll,missing,db3=session:a",
    "check_keys": "user:*",
    "check_single_streams": "events",
    "count_keys": "user:*,db3=session:*",
}


def _errorstats(server: RedisServer) -> dict[str, int]:
    text = server.cli("INFO", "errorstats").decode(errors="replace")
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"errorstat_(\w+):count=(\d+)", text)}


@pytest.fixture(scope="module", params=KINDS)
def pair(request: pytest.FixtureRequest, server_factory: object) -> Iterator[tuple[RedisServer, RedisServer]]:
    """A loaded primary and a replica of it, for each server kind."""
    primary: RedisServer = server_factory(request.param, "--repl-diskless-sync-delay", "0")  # type: ignore[operator]
    load_data(primary)
    replica: RedisServer = server_factory(request.param, "--replicaof", "127.0.0.1", str(primary.port))  # type: ignore[operator]
    assert wait_until(lambda: b"master_link_status:up" in replica.cli("INFO", "replication"), 15)
    assert wait_until(lambda: b"state=online" in primary.cli("INFO", "replication"), 15)
    yield primary, replica


def test_server_version(pair: tuple[RedisServer, RedisServer]) -> None:
    primary, _ = pair
    fams = scrape(primary.url)
    info = samples(fams, "redis_instance_info")
    assert len(info) == 1
    assert info[0].labels["redis_version"].startswith(EXPECTED_VERSION_PREFIX[primary.kind])  # type: ignore[attr-defined]
    assert info[0].labels["role"] == "master"  # type: ignore[attr-defined]
    assert info[0].labels["tcp_port"] == str(primary.port)  # type: ignore[attr-defined]
    if primary.kind == "valkey81":
        assert b"valkey_version:8.1." in primary.cli("INFO", "server")


def test_primary_metrics(pair: tuple[RedisServer, RedisServer]) -> None:
    primary, replica = pair
    fams = scrape(primary.url, **KEY_CHECKS)  # type: ignore[arg-type]
    assert value(fams, "redis_up") == 1
    assert value(fams, "redis_exporter_last_scrape_error", err="") == 0
    # keyspace, zero-filled up to `databases`
    assert value(fams, "redis_db_keys", db="db0") == 13
    assert value(fams, "redis_db_keys_expiring", db="db0") == 5
    assert value(fams, "redis_db_keys", db="db3") == 2
    assert value(fams, "redis_db_keys_expiring", db="db3") == 1
    assert value(fams, "redis_db_keys", db="db15") == 0
    assert value(fams, "redis_db_keys", db="db16") is None
    avg_ttl = value(fams, "redis_db_avg_ttl_seconds", db="db3")
    assert avg_ttl is not None and avg_ttl >= 0
    # key sizes by type; the HyperLogLog's size is its cardinality
    for key, size in {"list": 3, "set": 2, "zset": 4, "hash": 2, "hll": 5, "word": 5, "plain": 4,
                      "missing": 0}.items():
        assert value(fams, "redis_key_size", db="db0", key=key) == size, key
    assert value(fams, "redis_key_size", db="db3", key="session:a") == 1
    assert value(fams, "redis_key_value", db="db0", key="plain") == 12.5
    assert value(fams, "redis_key_value_as_string", db="db0", key="word", val="hello") == 1
    assert value(fams, "redis_key_value_as_string", key="hll") is None
    assert len(samples(fams, "redis_key_size")) == 9 + 5  # single keys + user:* expanded by SCAN
    assert value(fams, "redis_keys_count", db="db0", key="user:*") == 5
    assert value(fams, "redis_keys_count", db="db3", key="session:*") == 2
    # stream with a group and a consumer
    labels = {"db": "db0", "stream": "events"}
    assert value(fams, "redis_stream_length", **labels) == 2
    assert value(fams, "redis_stream_groups", **labels) == 1
    assert value(fams, "redis_stream_last_generated_id", **labels) == 1700000000001
    assert value(fams, "redis_stream_first_entry_id", **labels) == 1700000000000
    assert value(fams, "redis_stream_last_entry_id", **labels) == 1700000000001
    assert value(fams, "redis_stream_group_consumers", group="workers", **labels) == 1
    assert value(fams, "redis_stream_group_messages_pending", group="workers", **labels) == 1
    assert value(fams, "redis_stream_group_last_delivered_id", group="workers", **labels) == 1700000000000
    assert value(fams, "redis_stream_group_consumer_messages_pending", group="workers", consumer="w1",
                 **labels) == 1
    # slowlog: exactly the one entry load_data made
    assert value(fams, "redis_slowlog_length") == 1
    assert value(fams, "redis_slowlog_last_id") == 0
    # replication seen from the primary
    assert value(fams, "redis_connected_slaves") == 1
    offsets = samples(fams, "redis_connected_slave_offset_bytes")
    assert len(offsets) == 1
    assert offsets[0].labels == {"slave_ip": "127.0.0.1", "slave_port": str(replica.port),  # type: ignore[attr-defined]
                                 "slave_state": "online"}
    assert value(fams, "redis_connected_slave_lag_seconds") is not None
    # config gauges and derived values
    assert value(fams, "redis_config_maxclients") == 10000
    assert value(fams, "redis_config_maxmemory") == 0
    start = value(fams, "redis_start_time_seconds")
    assert start is not None and abs(start - time.time()) < 600
    assert fams["redis_commands"].type == "counter"  # type: ignore[attr-defined]
    assert value(fams, "redis_commands_total", cmd="set") is not None


def test_key_checks_add_no_server_errors(pair: tuple[RedisServer, RedisServer]) -> None:
    primary, _ = pair
    before = _errorstats(primary)
    scrape(primary.url, **KEY_CHECKS)  # type: ignore[arg-type]
    assert _errorstats(primary) == before


def test_replica_metrics(pair: tuple[RedisServer, RedisServer]) -> None:
    primary, replica = pair
    fams = scrape(replica.url)
    master = {"master_host": "127.0.0.1", "master_port": str(primary.port)}
    assert value(fams, "redis_master_link_up", **master) == 1
    assert value(fams, "redis_master_sync_in_progress", **master) == 0
    assert value(fams, "redis_master_last_io_seconds_ago", **master) is not None
    assert value(fams, "redis_slave_repl_offset", **master) is not None
    assert value(fams, "redis_slave_info", read_only="1", **master) == 1
    assert samples(fams, "redis_instance_info")[0].labels["role"] == "slave"  # type: ignore[attr-defined]


def test_latency_metrics(pair: tuple[RedisServer, RedisServer]) -> None:
    primary, _ = pair
    fams = scrape(primary.url)
    quantiles = {s.labels["quantile"] for s in samples(fams, "redis_latency_percentiles_usec")}  # type: ignore[attr-defined]
    histogram = samples(fams, "redis_commands_latencies_usec_count")
    if primary.kind == "redis62":
        # Redis 6.2 has neither latency percentiles in INFO nor LATENCY HISTOGRAM
        assert quantiles == set() and histogram == []
    else:
        assert quantiles == {"50", "99", "99.9"}
        assert histogram
        buckets = [s for s in samples(fams, "redis_commands_latencies_usec_bucket")
                   if s.labels["cmd"] == "set"]  # type: ignore[attr-defined]
        assert buckets[-1].labels["le"] == "+Inf"  # type: ignore[attr-defined]
        assert value(fams, "redis_commands_latencies_usec_count", cmd="set") == buckets[-1].value  # type: ignore[attr-defined]


def test_password(server_factory: object, caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cret-Pa55"
    server: RedisServer = server_factory("redis7", password=secret)  # type: ignore[operator]
    caplog.set_level(logging.DEBUG, logger="exporters")
    assert value(scrape(server.url, password=secret), "redis_up") == 1
    assert value(scrape(f"redis://:{secret}@127.0.0.1:{server.port}"), "redis_up") == 1
    wrong = scrape(server.url, password="wrong-password-xyz")
    assert value(wrong, "redis_up") == 0
    errors = samples(wrong, "redis_exporter_last_scrape_error")
    assert "WRONGPASS" in errors[0].labels["err"] or "invalid" in errors[0].labels["err"]  # type: ignore[attr-defined]
    noauth = scrape(server.url)
    assert value(noauth, "redis_up") == 0
    assert "NOAUTH" in samples(noauth, "redis_exporter_last_scrape_error")[0].labels["err"]  # type: ignore[attr-defined]
    assert secret not in caplog.text and "wrong-password-xyz" not in caplog.text
    for fams in (wrong, noauth):
        assert all(secret not in str(s.labels) for f in fams.values() for s in f.samples)  # type: ignore[attr-defined]


def test_acl_user_without_config_and_latency(server_factory: object, caplog: pytest.LogCaptureFixture) -> None:
    server: RedisServer = server_factory("redis7")  # type: ignore[operator]
    reply = server.cli("ACL", "SETUSER", "monitor", "on", ">mon-pw", "~*", "+@all", "-config", "-latency")
    assert reply.startswith(b"+OK"), reply
    once = LogOnce()
    caplog.set_level(logging.WARNING, logger="exporters")
    for _ in range(2):
        fams = scrape(server.url, user="monitor", password="mon-pw", once=once)
        assert value(fams, "redis_up") == 1
        assert value(fams, "redis_config_maxclients") is None  # CONFIG refused: only its metrics lost
        assert value(fams, "redis_db_keys", db="db15") == 0  # databases falls back to 16
        assert value(fams, "redis_connected_clients") is not None
    refused = [r for r in caplog.records if "CONFIG GET" in r.getMessage()]
    assert len(refused) == 1  # logged once, not per scrape
    assert len([r for r in caplog.records if "LATENCY LATEST" in r.getMessage()]) == 1
    assert "mon-pw" not in caplog.text


def test_server_down() -> None:
    from tests.conftest import free_port

    started = time.monotonic()
    fams = scrape(f"redis://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 3
    assert value(fams, "redis_up") == 0
    assert "connection refused" in samples(fams, "redis_exporter_last_scrape_error")[0].labels["err"]  # type: ignore[attr-defined]


@pytest.mark.timeout(20)
def test_peer_that_never_answers() -> None:
    """A TCP peer that accepts and never answers: redis_up 0 within the scrape deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        fams = scrape(f"redis://127.0.0.1:{port}", timeout=1.5, password="pw")
        took = time.monotonic() - started
        assert took < 2.5
        assert value(fams, "redis_up") == 0
        assert "timeout" in samples(fams, "redis_exporter_last_scrape_error")[0].labels["err"]  # type: ignore[attr-defined]
        # the connection timeout bounds a scrape too, even with a long deadline
        started = time.monotonic()
        fams = scrape(f"redis://127.0.0.1:{port}", timeout=30, connection_timeout=1.0)
        assert time.monotonic() - started < 2.5 and value(fams, "redis_up") == 0
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_unix_socket(server_factory: object, tmp_path: Path) -> None:
    path = tmp_path / "redis.sock"
    server: RedisServer = server_factory("redis7", "--unixsocket", str(path), "--unixsocketperm", "700")  # type: ignore[operator]
    fams = scrape(f"unix://{path}")
    assert value(fams, "redis_up") == 1
    assert samples(fams, "redis_instance_info")[0].labels["tcp_port"] == str(server.port)  # type: ignore[attr-defined]


def test_lua_scripts(pair: tuple[RedisServer, RedisServer], tmp_path: Path) -> None:
    primary, _ = pair
    good = b"return {'answer', '42', 'half', '0.5'}"
    fams = scrape(primary.url, lua_scripts=(("good.lua", good),))
    assert value(fams, "redis_script_values", key="answer", filename="good.lua") == 42
    assert value(fams, "redis_script_values", key="half", filename="good.lua") == 0.5
    assert value(fams, "redis_script_result", filename="good.lua") == 1
    empty = scrape(primary.url, lua_scripts=(("empty.lua", b"return {}"),))
    assert value(empty, "redis_script_result", filename="empty.lua") == 2
    broken = scrape(primary.url, lua_scripts=(("broken.lua", b"this is not lua"),))
    assert value(broken, "redis_script_result", filename="broken.lua") == 0
    assert value(broken, "redis_up") == 0  # as upstream: a failing script fails the scrape


def test_key_checks_bounded(server_factory: object) -> None:
    server: RedisServer = server_factory("redis7")  # type: ignore[operator]
    client = server.client()
    pipe = client.pipeline()  # type: ignore[attr-defined]
    for i in range(3000):
        pipe.set(f"bulk:{i}", i)
    pipe.execute()
    fams = scrape(server.url, check_keys="bulk:*", max_checked_keys=100, check_keys_batch_size=500)
    assert value(fams, "redis_up") == 1
    assert 0 < len(samples(fams, "redis_key_size")) <= 100
    # unbounded by count, a short deadline still ends the checks and the scrape answers
    started = time.monotonic()
    fams = scrape(server.url, timeout=0.6, check_keys="bulk:*", max_checked_keys=0, check_keys_batch_size=10)
    assert time.monotonic() - started < 1.5
    assert value(fams, "redis_exporter_last_scrape_duration_seconds") is not None


def test_shared_redis(redis_url: str) -> None:
    """The local service: read-only scrape plus key checks on keys under a unique prefix."""
    import uuid

    import redis

    prefix = f"exporters-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        client.set(prefix + "a", "7")
        client.rpush(prefix + "l", "x", "y")
        fams = scrape(redis_url, check_keys=prefix + "*", count_keys=prefix + "*")
        assert value(fams, "redis_up") == 1
        assert value(fams, "redis_key_value", key=prefix + "a") == 7
        assert value(fams, "redis_key_size", key=prefix + "l") == 2
        assert value(fams, "redis_keys_count", key=prefix + "*") == 2
        databases = int(client.config_get("databases")["databases"])
        assert len(samples(fams, "redis_db_keys")) == databases
    finally:
        client.delete(prefix + "a", prefix + "l")


@pytest.fixture(scope="module")
def cluster(server_factory: object) -> list[RedisServer]:
    """Three redis-server processes made into a cluster with redis-cli --cluster create."""
    import shutil
    import subprocess

    nodes: list[RedisServer] = [
        server_factory("redis7", "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{i}.conf",  # type: ignore[operator]
                       "--cluster-node-timeout", "5000")
        for i in range(3)
    ]
    cli = shutil.which("redis-cli", path=os.path.dirname(nodes[0].binary)) or shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli not available to create the cluster")
    subprocess.run([cli, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes],
                    "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
    assert wait_until(lambda: all(b"cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in nodes), 30)
    return nodes


def test_cluster(cluster: list[RedisServer]) -> None:
    import redis

    entry = cluster[0]
    client = redis.RedisCluster(host="127.0.0.1", port=entry.port, socket_timeout=5)
    keys = [f"ck:{i}" for i in range(20)]
    for key in keys:
        client.rpush(key, "a", "b")
    fams = scrape(entry.url, is_cluster=True, check_single_keys=",".join(keys))
    assert value(fams, "redis_up") == 1
    assert value(fams, "redis_cluster_enabled") == 1
    assert value(fams, "redis_cluster_state") == 1
    assert value(fams, "redis_cluster_known_nodes") == 3
    assert value(fams, "redis_cluster_slots_assigned") == 16384
    assert value(fams, "redis_cluster_messages_sent_total") is not None
    # one database in cluster mode
    assert [s.labels["db"] for s in samples(fams, "redis_db_keys")] == ["db0"]  # type: ignore[attr-defined]
    # keys served by the other nodes are followed there
    sizes = {s.labels["key"]: s.value for s in samples(fams, "redis_key_size")}  # type: ignore[attr-defined]
    assert sizes == dict.fromkeys(keys, 2.0)


def _openssl(*args: str) -> None:
    import shutil
    import subprocess

    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("openssl not available to make test certificates")
    subprocess.run([binary, *args], check=True, capture_output=True, timeout=60)


def _certificates(directory: Path) -> dict[str, str]:
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate."""
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
             "-days", "2", "-subj", "/CN=exporters-test-ca")
    ext = directory / "san.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    out = {"ca": str(ca_crt)}
    for name in ("server", "client"):
        key, csr, crt = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                 "-subj", f"/CN={name}")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
                 "-out", str(crt), "-days", "2", "-extfile", str(ext))
        out[name + "_cert"], out[name + "_key"] = str(crt), str(key)
    return out


def test_tls(server_factory: object, tmp_path: Path) -> None:
    from exporters.redis.resp import TLSOptions
    from tests.conftest import free_port

    certs = _certificates(tmp_path)
    tls_port = free_port()
    server: RedisServer = server_factory(  # type: ignore[operator]
        "redis7", "--tls-port", str(tls_port), "--tls-cert-file", certs["server_cert"],
        "--tls-key-file", certs["server_key"], "--tls-ca-cert-file", certs["ca"], "--tls-auth-clients", "yes")
    url = f"rediss://localhost:{tls_port}"
    client_tls = TLSOptions(certs["client_cert"], certs["client_key"], certs["ca"])
    fams = scrape(url, tls=client_tls)
    assert value(fams, "redis_up") == 1
    assert samples(fams, "redis_instance_info")[0].labels["tcp_port"] == str(server.port)  # type: ignore[attr-defined]
    # no client certificate: the server refuses the handshake
    assert value(scrape(url, tls=TLSOptions(ca_cert_file=certs["ca"])), "redis_up") == 0
    # the server's certificate is not trusted without the CA, unless verification is skipped
    assert value(scrape(url, tls=TLSOptions(certs["client_cert"], certs["client_key"])), "redis_up") == 0
    skip = TLSOptions(certs["client_cert"], certs["client_key"], skip_verification=True)
    assert value(scrape(url, tls=skip), "redis_up") == 1


def test_latency_spikes(server_factory: object) -> None:
    server: RedisServer = server_factory("redis7", "--latency-monitor-threshold", "1")  # type: ignore[operator]
    # a busy Lua loop of some milliseconds is a latency event named "command"
    server.cli("EVAL", "local i = 0 while i < 3000000 do i = i + 1 end return 1", "0")
    assert b"command" in server.cli("LATENCY", "LATEST")
    fams = scrape(server.url)
    last = value(fams, "redis_latency_spike_last", event_name="command")
    duration = value(fams, "redis_latency_spike_duration_seconds", event_name="command")
    assert last is not None and abs(last - time.time()) < 60
    assert duration is not None and duration >= 0.001


def test_count_keys_is_not_capped_by_the_check_keys_limit(redis_url: str) -> None:
    """A capped count would be wrong: -count-keys counts every match, whatever -check-keys-limit says."""
    import uuid

    import redis

    prefix = f"exporters-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        client.mset({f"{prefix}{i}": "1" for i in range(25)})
        fams = scrape(redis_url, count_keys=prefix + "*", check_keys=prefix + "*", max_checked_keys=10)
        assert value(fams, "redis_keys_count", key=prefix + "*") == 25
        assert len(samples(fams, "redis_key_size")) <= 10
    finally:
        client.delete(*[f"{prefix}{i}" for i in range(25)])
