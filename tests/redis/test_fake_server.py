"""Replies real servers rarely give: managed services refusing commands, odd values, Tile38."""

from __future__ import annotations

import logging

import pytest

from exporters.redis.scrape import LogOnce
from tests.redis.conftest import samples, scrape, value
from tests.redis.fake_server import OK, FakeRedis, array, bulk, error, integer

INFO = (
    "# Server\r\nredis_version:7.0.11\r\nredis_mode:standalone\r\nos:Linux\r\ntcp_port:6379\r\n"
    "uptime_in_seconds:100\r\nrun_id:abc\r\nprocess_id:42\r\n"
    "# Clients\r\nconnected_clients:5\r\nsome_future_field:12\r\nweird_value:not-a-number\r\n"
    "# Memory\r\nmaxmemory_policy:noeviction\r\nused_memory:1024\r\nmem_fragmentation_ratio:nan-ish\r\n"
    "# Persistence\r\nrdb_last_bgsave_status:ok\r\naof_last_write_status:err\r\n"
    "# Stats\r\nlatest_fork_usec:1500\r\ntotal_connections_received:9\r\n"
    "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
    "slave0:ip=10.0.0.2,port=6380,state=online,offset=100,lag=1\r\nslave1:garbage\r\n"
    "# Commandstats\r\ncmdstat_get:calls=3,usec=30,usec_per_call=10.00,rejected_calls=0,failed_calls=1\r\n"
    "cmdstat_broken:calls=x\r\n"
    "# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_BAD:count=\r\n"
    "# Latencystats\r\nlatency_percentiles_usec_get:p50=1.003,p99=5.001,p99.9=9.999\r\n"
    "latency_percentiles_usec_nocalls:p50=1\r\n"
    "# Cluster\r\ncluster_enabled:0\r\n"
    "# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=2000\r\ndb2:keys=oops\r\n"
)


def managed(extra: dict[str, bytes] | None = None) -> FakeRedis:
    """A server that refuses CONFIG, LATENCY and SLOWLOG, as some managed services do."""
    replies: dict[str, bytes] = {
        "CLIENT SETNAME": OK,
        "CONFIG": error("ERR unknown command 'CONFIG'"),
        "INFO ALL": bulk(INFO),
        "LATENCY": error("NOPERM this user has no permissions to run the 'latency' command"),
        "SLOWLOG": error("ERR unknown command 'SLOWLOG'"),
    }
    replies.update(extra or {})
    return FakeRedis(replies)


def test_managed_service_costs_only_refused_metrics(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="exporters")
    once = LogOnce()
    with managed() as server:
        for _ in range(3):
            fams = scrape(server.url, once=once)
            assert value(fams, "redis_up") == 1
        assert value(fams, "redis_connected_clients") == 5
        assert value(fams, "redis_config_maxclients") is None
        assert value(fams, "redis_slowlog_length") is None
        assert value(fams, "redis_latency_spike_last") is None
        assert value(fams, "redis_db_keys", db="db15") == 0  # CONFIG refused: 16 databases
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert sorted(r.getMessage().split(" ")[0] for r in warnings) == ["CONFIG", "LATENCY", "LATENCY", "SLOWLOG"]


def test_info_values() -> None:
    with managed() as server:
        fams = scrape(server.url)
    assert value(fams, "redis_latest_fork_seconds") == 0.0015
    assert value(fams, "redis_rdb_last_bgsave_status") == 1
    assert value(fams, "redis_aof_last_write_status") == 0
    assert fams["redis_connections_received"].type == "counter"  # type: ignore[attr-defined]
    assert value(fams, "redis_connections_received_total") == 9
    assert value(fams, "redis_memory_used_bytes") == 1024
    # unknown fields are ignored; unparsable values of known fields are left out
    assert not [n for n in fams if "future" in n or "weird" in n]
    assert value(fams, "redis_mem_fragmentation_ratio") is None
    # malformed lines cost only themselves
    assert len(samples(fams, "redis_connected_slave_offset_bytes")) == 1
    assert value(fams, "redis_commands_total", cmd="get") == 3
    assert value(fams, "redis_commands_failed_calls_total", cmd="get") == 1
    assert value(fams, "redis_commands_total", cmd="broken") is None
    assert value(fams, "redis_errors_total", err="ERR") == 2
    assert value(fams, "redis_errors_total", err="BAD") is None
    assert value(fams, "redis_latency_percentiles_usec", cmd="get", quantile="99.9") == 9.999
    assert value(fams, "redis_latency_percentiles_usec_sum", cmd="get") == 30
    assert value(fams, "redis_latency_percentiles_usec_count", cmd="get") == 3
    assert value(fams, "redis_latency_percentiles_usec", cmd="nocalls") is None  # no commandstats: no summary
    assert value(fams, "redis_db_keys", db="db0") == 5
    assert value(fams, "redis_db_avg_ttl_seconds", db="db0") == 2
    assert value(fams, "redis_db_keys", db="db2") == 0  # unreadable line: zero-filled like an absent db
    assert value(fams, "redis_process_id") == 42
    info = samples(fams, "redis_instance_info")[0]
    assert info.labels["maxmemory_policy"] == "noeviction" and info.labels["run_id"] == "abc"  # type: ignore[attr-defined]


def test_info_all_refused_falls_back_to_info() -> None:
    with managed({"INFO ALL": error("ERR syntax error"), "INFO": bulk(INFO)}) as server:
        fams = scrape(server.url)
        assert value(fams, "redis_up") == 1
        assert value(fams, "redis_connected_clients") == 5
        assert [b"INFO"] in server.commands


def test_info_refused_is_a_failed_scrape() -> None:
    with managed({"INFO ALL": error("NOPERM no info for you"), "INFO": error("NOPERM no info for you")}) as server:
        fams = scrape(server.url)
    assert value(fams, "redis_up") == 0
    assert value(fams, "redis_exporter_last_scrape_error", err="NOPERM no info for you") == 1


def test_config_command_rename_and_set_client_name() -> None:
    config = array(bulk("maxclients"), bulk("100"), bulk("databases"), bulk("4"), bulk("io-threads"), bulk("2"))
    with managed({"MYCONFIG GET": config}) as server:
        fams = scrape(server.url, config_command="MYCONFIG", set_client_name=False)
        assert [b"CLIENT", b"SETNAME", b"redis_exporter"] not in server.commands
    assert value(fams, "redis_config_maxclients") == 100
    assert value(fams, "redis_config_io_threads") == 2
    assert value(fams, "redis_db_keys", db="db3") == 0 and value(fams, "redis_db_keys", db="db4") is None
    with managed() as server:
        fams = scrape(server.url, config_command="-")
        assert not [c for c in server.commands if c[0] in (b"-", b"CONFIG")]  # "-" skips CONFIG GET
    assert value(fams, "redis_up") == 1 and value(fams, "redis_db_keys", db="db15") == 0


def test_redacted_config_metrics() -> None:
    config = array(bulk("requirepass"), bulk("hunter2"), bulk("maxmemory"), bulk("0"), bulk("appendonly"),
                   bulk("no"))
    with managed({"CONFIG GET": config}) as server:
        fams = scrape(server.url, include_config_metrics=True)
        assert value(fams, "redis_config_key_value", key="appendonly", value="no") == 1
        assert value(fams, "redis_config_value", key="maxmemory") == 0
        assert "hunter2" not in str([s.labels for f in fams.values() for s in f.samples])  # type: ignore[attr-defined]
        shown = scrape(server.url, include_config_metrics=True, redact_config_metrics=False)
        assert value(shown, "redis_config_key_value", key="requirepass", value="hunter2") == 1


def test_tile38() -> None:
    ext = array(bulk("tile38_num_objects"), bulk("12"), bulk("heap_alloc_bytes"), bulk("2048"),
                bulk("tile38_unknown"), bulk("1"), bulk("read_only"), bulk("false"))
    with managed({"SERVER EXT": ext}) as server:
        fams = scrape(server.url, is_tile38=True)
        plain = scrape(server.url)
    assert value(fams, "redis_tile38_num_objects_total") == 12
    assert value(fams, "redis_tile38_heap_size_bytes") == 2048
    assert value(fams, "redis_tile38_read_only") == 0
    assert value(plain, "redis_tile38_num_objects_total") is None


def test_unexpected_reply_types_do_not_break_the_scrape() -> None:
    with managed({"LATENCY LATEST": integer(5), "LATENCY HISTOGRAM": bulk("nope"), "SLOWLOG LEN": bulk("x"),
                  "SLOWLOG GET": integer(1), "CONFIG GET": array(bulk("odd"))}) as server:
        fams = scrape(server.url)
    # an odd CONFIG reply fails the scrape as upstream does ("invalid config")
    assert value(fams, "redis_up") == 0
    with managed({"LATENCY LATEST": integer(5), "LATENCY HISTOGRAM": bulk("nope"), "SLOWLOG LEN": bulk("x"),
                  "SLOWLOG GET": integer(1)}) as server:
        fams = scrape(server.url)
    assert value(fams, "redis_up") == 1
    assert value(fams, "redis_slowlog_last_id") == 0


def success(fams: dict[str, object]) -> dict[str, float]:
    return {s.labels["collector"]: s.value for s in samples(fams, "redis_scrape_collector_success")}  # type: ignore[attr-defined]


def test_a_failing_collector_costs_only_its_own_metrics() -> None:
    # CLIENT LIST answered with an array where a text is due: the clients collector fails
    with managed({"CLIENT LIST": array(bulk("id=1")), "SERVER EXT": error("ERR unknown command")}) as server:
        fams = scrape(server.url, export_client_list=True, is_tile38=True)
    assert value(fams, "redis_up") == 1
    assert value(fams, "redis_connected_clients") == 5
    assert success(fams) == {
        "config": 0, "info": 1, "keyspace": 1, "commandstats": 1, "latency": 0, "slowlog": 0, "clients": 0,
        "tile38": 0, "key_groups": 1,
    }
    assert len(samples(fams, "redis_scrape_collector_duration_seconds")) == len(success(fams))


def test_a_connection_lost_in_a_collector_fails_the_scrape() -> None:
    def hang_up(command: list[bytes]) -> bytes:
        raise ConnectionResetError  # the fake closes the connection
    with managed({"CLIENT LIST": hang_up}) as server:
        fams = scrape(server.url, export_client_list=True, count_keys="a*")
    assert value(fams, "redis_up") == 0
    assert value(fams, "redis_connected_clients") == 5  # what the collectors before it had
    assert success(fams)["clients"] == 0
    assert success(fams)["count_keys"] == 0  # not run after the connection was lost
