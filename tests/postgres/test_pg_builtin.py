"""Built-in metrics against the real PostgreSQL 15 service (in-process, no HTTP)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
import pytest

from exporters.core.collector import CollectorSpec
from exporters.core.exposition import render_text
from exporters.postgres.collectors import SPECS, CollectorConfig, TableCollector
from exporters.postgres.collectors._table import gauge, spec, table
from exporters.postgres.dsn import Dsn
from exporters.postgres.exporter import Options, PostgresExporter, QueriesState
from tests.postgres.conftest import ScratchDb
from tests.postgres.expo import Family, parse

LOG = logging.getLogger("exporters.test.postgres")
DEFAULT_ON = [s for s in SPECS if s.enabled_by_default]

# family -> (type, label names) of what v0.15.0 exports by default (server label added where upstream adds it)
EXPECTED = {
    "pg_up": ("gauge", set()),
    "pg_static": ("untyped", {"server", "version", "short_version"}),
    "pg_exporter_scrapes_total": ("counter", set()),
    "pg_exporter_last_scrape_error": ("gauge", set()),
    "pg_exporter_last_scrape_duration_seconds": ("gauge", set()),
    "pg_settings_shared_buffers_bytes": ("gauge", {"server"}),
    "pg_settings_fsync": ("gauge", {"server"}),
    "pg_stat_activity_count": ("gauge", {"server", "datname", "state", "usename", "application_name"}),
    "pg_stat_activity_max_tx_duration": ("gauge", {"server", "datname", "state", "usename", "application_name"}),
    "pg_stat_archiver_archived_count": ("counter", {"server"}),
    "pg_stat_database_conflicts_confl_lock": ("counter", {"server", "datid", "datname"}),
    "pg_database_size_bytes": ("gauge", {"datname"}),
    "pg_locks_count": ("gauge", {"datname", "mode"}),
    "pg_replication_lag_seconds": ("gauge", set()),
    "pg_replication_is_replica": ("gauge", set()),
    "pg_stat_bgwriter_checkpoints_timed_total": ("counter", set()),
    "pg_stat_bgwriter_stats_reset_total": ("counter", set()),
    "pg_stat_database_xact_commit": ("counter", {"datid", "datname"}),
    "pg_stat_database_numbackends": ("gauge", {"datid", "datname"}),
    "pg_stat_user_tables_n_live_tup": ("gauge", {"datname", "schemaname", "relname"}),
    "pg_stat_user_tables_seq_scan": ("counter", {"datname", "schemaname", "relname"}),
    "pg_stat_user_tables_size_bytes": ("gauge", {"datname", "schemaname", "relname"}),
    "pg_statio_user_tables_heap_blocks_read": ("counter", {"datname", "schemaname", "relname"}),
    "pg_wal_segments": ("gauge", set()),
    "pg_wal_size_bytes": ("gauge", set()),
    "pg_scrape_collector_success": ("gauge", {"collector"}),
    "pg_scrape_collector_duration_seconds": ("gauge", {"collector"}),
}


def scrape(exporter: PostgresExporter, timeout: float = 10.0) -> dict[str, Family]:
    return parse(render_text(exporter.collect(time.monotonic() + timeout)).decode())


@pytest.fixture(scope="module")
def tables(scratch_db: ScratchDb) -> ScratchDb:
    with scratch_db.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text)")
        conn.execute("TRUNCATE items")
        conn.execute("INSERT INTO items (name) SELECT 'n' || g FROM generate_series(1, 500) g")
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("ANALYZE items")
    return scratch_db


@pytest.fixture
def make_exporter() -> Iterator[object]:
    made: list[PostgresExporter] = []

    def factory(dsns: Sequence[str], specs: Sequence[CollectorSpec[CollectorConfig]] = DEFAULT_ON,
                queries: QueriesState | None = None, **options: object) -> PostgresExporter:
        exporter = PostgresExporter([Dsn.parse(d) for d in dsns], Options(**options), queries,  # type: ignore[arg-type]
                                    specs, LOG)
        made.append(exporter)
        return exporter

    yield factory
    for exporter in made:
        exporter.close()


@pytest.mark.timeout(60)
def test_default_families_types_and_labels(tables: ScratchDb, make_exporter: object) -> None:
    exporter = make_exporter([tables.dsn])  # type: ignore[operator]
    fams = scrape(exporter)
    for name, (typ, labels) in EXPECTED.items():
        assert name in fams, f"{name} missing"
        assert fams[name].type == typ, f"{name}: {fams[name].type} != {typ}"
        assert fams[name].label_names() == labels, f"{name}: {fams[name].label_names()} != {labels}"
    assert fams["pg_up"].value() == 1
    assert fams["pg_exporter_last_scrape_error"].value() == 0
    assert all(v == 1 for v in fams["pg_scrape_collector_success"].values())
    # every family has a collector: the collector package, pg_static, pg_settings, the namespaces
    assert {s[1]["collector"] for s in fams["pg_scrape_collector_success"].samples} == {s.name for s in DEFAULT_ON} | {
        "pg_static", "pg_settings", "pg_stat_activity", "pg_stat_replication", "pg_replication_slots",
        "pg_stat_archiver", "pg_stat_database_conflicts"}
    with tables.connect() as conn:
        live = conn.execute("SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'items'").fetchone()
    assert live is not None and live[0] > 0
    assert fams["pg_stat_user_tables_n_live_tup"].value(relname="items", datname=tables.name) == live[0]
    assert fams["pg_database_size_bytes"].value(datname=tables.name) > 1_000_000
    static = fams["pg_static"].samples[0][1]
    assert static["short_version"].startswith("15.") and static["version"].startswith("PostgreSQL 15")
    with psycopg.connect(tables.admin_dsn) as conn:
        shared = conn.execute("SELECT setting::float * 8192 FROM pg_settings WHERE name='shared_buffers'").fetchone()
    assert shared is not None and fams["pg_settings_shared_buffers_bytes"].value() == shared[0]
    assert fams["pg_exporter_scrapes_total"].value() == 1
    assert scrape(exporter)["pg_exporter_scrapes_total"].value() == 2


@pytest.mark.timeout(60)
def test_own_session_is_counted_as_upstream_and_application_name_is_set(
    tables: ScratchDb, make_exporter: object
) -> None:
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'postgres_exporter' AND datname = %s"
    with tables.connect() as conn:
        # connections of earlier tests' exporters may take a moment to go away
        end = time.monotonic() + 10
        while conn.execute(query, [tables.name]).fetchone() != (0,) and time.monotonic() < end:
            time.sleep(0.1)
    exporter = make_exporter([tables.dsn])  # type: ignore[operator]
    fams = scrape(exporter)
    mine = [s for s in fams["pg_stat_activity_count"].samples
            if s[1]["application_name"] == "postgres_exporter" and s[1]["datname"] == tables.name]
    assert sum(s[2] for s in mine) == 1, mine
    assert [s[1]["state"] for s in mine if s[2]] == ["active"]
    with tables.connect() as conn:
        row = conn.execute(query, [tables.name]).fetchone()
    assert row is not None and row[0] == 1, "one persistent connection, named postgres_exporter"


@pytest.mark.timeout(60)
def test_every_collector_runs_on_15(tables: ScratchDb, make_exporter: object) -> None:
    exporter = make_exporter([tables.dsn], specs=list(SPECS))  # type: ignore[operator]
    fams = scrape(exporter)
    success = {s[1]["collector"]: s[2] for s in fams["pg_scrape_collector_success"].samples}
    assert set(success) >= {s.name for s in SPECS}
    # pg_stat_statements is not installed here: "no data", everything else succeeds
    assert {name for name, ok in success.items() if ok != 1} <= {"stat_statements"}
    assert fams["pg_postmaster_start_time_seconds"].value() > 1e9
    assert "pg_xlog_location_bytes" not in fams, "upstream skips xlog_location on 10 and later"
    assert success["xlog_location"] == 1
    assert "pg_database_wraparound_age_datfrozenxid_seconds" in fams
    assert fams["pg_long_running_transactions"].type == "gauge"


@pytest.mark.timeout(30)
def test_a_failing_collector_costs_only_itself(tables: ScratchDb, make_exporter: object) -> None:
    class BrokenCollector(TableCollector):
        name = "broken"
        queries = ((">=0.0.0", "SELECT no_such_column FROM pg_database"),)
        metrics = table(columns=(gauge("no_such_column", "pg_broken_value", "Never exported"),))

    exporter = make_exporter([tables.dsn], specs=[*DEFAULT_ON, spec(BrokenCollector, True)])  # type: ignore[operator]
    fams = scrape(exporter)
    assert fams["pg_scrape_collector_success"].value(collector="broken") == 0
    assert fams["pg_scrape_collector_success"].value(collector="stat_database") == 1
    assert fams["pg_up"].value() == 1


@pytest.mark.timeout(30)
def test_flags_shape_the_scrape(tables: ScratchDb, make_exporter: object) -> None:
    fams = scrape(make_exporter([tables.dsn], disable_settings_metrics=True,  # type: ignore[operator]
                                constant_labels={"env": "test"}))
    assert not any(name.startswith("pg_settings_") for name in fams)
    assert fams["pg_up"].samples[0][1] == {"env": "test"}
    assert fams["pg_stat_activity_count"].label_names() >= {"env", "server"}
    assert "env" not in fams["pg_locks_count"].label_names()
    fams = scrape(make_exporter([tables.dsn], disable_default_metrics=True))  # type: ignore[operator]
    assert "pg_static" not in fams and "pg_stat_activity_count" not in fams and "pg_settings_fsync" not in fams
    assert "pg_stat_database_xact_commit" in fams, "collectors are not default metrics"
    fams = scrape(make_exporter([tables.dsn], metric_prefix="pgx"))  # type: ignore[operator]
    assert "pgx_stat_activity_count" in fams and "pg_up" in fams


@pytest.mark.timeout(60)
def test_auto_discovery_runs_non_master_namespaces_per_database(
    tables: ScratchDb, make_exporter: object, tmp_path: Path
) -> None:
    path = tmp_path / "q.yaml"
    path.write_text("pg_whoami:\n  query: SELECT current_database() AS db, 1 AS one\n  metrics:\n"
                    "    - db:\n        usage: LABEL\n    - one:\n        usage: GAUGE\n")
    queries = QueriesState(str(path), LOG)
    queries.load()
    base = tables.dsn.replace(f"dbname={tables.name}", "dbname=postgres")
    fams = scrape(make_exporter([base], queries=queries, auto_discover_databases=True,  # type: ignore[operator]
                                include_databases=(tables.name,)))
    dbs = sorted(s[1]["db"] for s in fams["pg_whoami_one"].samples)
    assert dbs == sorted(["postgres", tables.name])
    assert fams["pg_exporter_user_queries_load_error"].value() == 0
    assert fams["pg_exporter_user_queries_load_error"].samples[0][1]["filename"] == str(path)


@pytest.mark.timeout(60)
def test_several_dsns_and_excluded_databases(tables: ScratchDb, make_exporter: object) -> None:
    from tests.conftest import free_port

    down = f"postgresql://root@127.0.0.1:{free_port()}/postgres?sslmode=disable"
    exporter = make_exporter([tables.dsn, down], exclude_databases=(tables.name,))  # type: ignore[operator]
    fams = scrape(exporter)
    assert fams["pg_up"].value() == 1, "up while at least one server answers (upstream)"
    assert fams["pg_exporter_last_scrape_error"].value() == 1
    assert {s[1]["server"] for s in fams["pg_static"].samples} == {"127.0.0.1:5432"}
    assert fams["pg_database_size_bytes"].values(datname=tables.name) == []
    assert fams["pg_database_size_bytes"].values(datname="postgres") != []


ODD_QUERIES = """\
pg_odd_types:
  query: |
    SELECT '10.1.2.3'::inet AS addr, 'up'::text AS state, interval '1 minute 30 seconds' AS wait,
           '1h2m'::text AS budget, to_timestamp(86400) AS since, 12.5::numeric AS amount, true AS flag,
           NULL::int AS nothing, ARRAY[0.5, 2]::float8[] AS lat, ARRAY[1, 3]::int8[] AS lat_bucket,
           2.75::float8 AS lat_sum, 4::int8 AS lat_count, 'not a number'::text AS label_like
  metrics:
    - addr:
        usage: LABEL
    - state:
        usage: MAPPEDMETRIC
        metric_mapping: {up: 1, down: 0}
    - wait:
        usage: DURATION
    - budget:
        usage: DURATION
    - since:
        usage: GAUGE
    - amount:
        usage: COUNTER
    - flag:
        usage: GAUGE
    - nothing:
        usage: GAUGE
    - lat:
        usage: HISTOGRAM
    - label_like:
        usage: GAUGE
pg_odd_broken:
  query: SELECT no_such_column FROM pg_database
  metrics:
    - no_such_column:
        usage: GAUGE
"""


@pytest.mark.timeout(30)
def test_real_column_types_and_a_broken_query(tables: ScratchDb, make_exporter: object, tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(ODD_QUERIES)
    queries = QueriesState(str(path), LOG)
    queries.load()
    fams = scrape(make_exporter([tables.dsn], queries=queries))  # type: ignore[operator]
    labels = {"addr": "10.1.2.3", "server": "127.0.0.1:5432"}
    assert fams["pg_odd_types_state"].value(**labels) == 1
    assert fams["pg_odd_types_wait_milliseconds"].value() == 90000
    assert fams["pg_odd_types_budget_milliseconds"].value() == 3720000
    assert fams["pg_odd_types_since"].value() == 86400
    assert fams["pg_odd_types_amount"].value() == 12.5 and fams["pg_odd_types_amount"].type == "counter"
    assert fams["pg_odd_types_flag"].value() == 1
    assert str(fams["pg_odd_types_nothing"].value()) == "nan"
    lat = fams["pg_odd_types_lat"]
    assert lat.type == "histogram"
    assert [(s[1].get("le"), s[2]) for s in lat.samples if s[0].endswith("_bucket")] == [
        ("0.5", 1), ("2", 3), ("+Inf", 4)]
    assert "pg_odd_types_label_like" not in fams, "text in a GAUGE column is skipped, not fatal"
    # the broken namespace costs only itself, and is reported
    assert "pg_odd_broken_no_such_column" not in fams
    assert fams["pg_exporter_last_scrape_error"].value() == 1
    assert fams["pg_up"].value() == 1 and "pg_stat_database_xact_commit" in fams


@pytest.mark.timeout(30)
def test_a_slow_custom_query_is_cut_at_the_deadline(tables: ScratchDb, make_exporter: object, tmp_path: Path) -> None:
    path = tmp_path / "slow.yaml"
    path.write_text("pg_sleepy:\n  query: SELECT 1 AS v FROM pg_sleep(30)\n"
                    "  metrics:\n    - v:\n        usage: GAUGE\n")
    queries = QueriesState(str(path), LOG)
    queries.load()
    exporter = make_exporter([tables.dsn], queries=queries)  # type: ignore[operator]
    began = time.monotonic()
    fams = scrape(exporter, timeout=2.5)
    assert time.monotonic() - began < 3.0
    assert "pg_sleepy_v" not in fams and fams["pg_exporter_last_scrape_error"].value() == 1
    assert fams["pg_up"].value() == 1
    success = {s[1]["collector"]: s[2] for s in fams["pg_scrape_collector_success"].samples}
    assert success.pop("pg_sleepy") == 0
    assert all(v == 1 for v in success.values()), "built-ins ran first"
    # and the connection is fine for the next scrape
    assert scrape(exporter, timeout=2.5)["pg_stat_database_xact_commit"].samples


@pytest.mark.timeout(30)
def test_settings_are_the_servers_not_the_scrape_sessions(tables: ScratchDb, make_exporter: object) -> None:
    fams = scrape(make_exporter([tables.dsn]), timeout=3.0)  # type: ignore[operator]
    with psycopg.connect(tables.admin_dsn) as conn:
        rows = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                                 "('statement_timeout', 'lock_timeout', 'transaction_read_only')").fetchall())
    assert fams["pg_settings_statement_timeout_seconds"].value() == float(rows["statement_timeout"]) / 1000
    assert fams["pg_settings_lock_timeout_seconds"].value() == float(rows["lock_timeout"]) / 1000
    assert fams["pg_settings_transaction_read_only"].value() == (1.0 if rows["transaction_read_only"] == "on" else 0)


@pytest.mark.timeout(60)
def test_a_cached_query_slower_than_the_deadline_finishes_in_the_background(
    tables: ScratchDb, make_exporter: object, tmp_path: Path
) -> None:
    path = tmp_path / "cached.yaml"
    path.write_text("pg_cached_slow:\n  query: SELECT 7 AS v FROM pg_sleep(1.5)\n  cache_seconds: 300\n"
                    "  metrics:\n    - v:\n        usage: GAUGE\n")
    queries = QueriesState(str(path), LOG)
    queries.load()
    exporter = make_exporter([tables.dsn], queries=queries)  # type: ignore[operator]
    first = scrape(exporter, timeout=1.0)
    assert "pg_cached_slow_v" not in first and first["pg_up"].value() == 1
    # not cancelled: it finishes on its own connection and later scrapes serve it
    end = time.monotonic() + 20
    while time.monotonic() < end:
        fams = scrape(exporter, timeout=1.0)
        if "pg_cached_slow_v" in fams:
            break
        time.sleep(0.2)
    assert fams["pg_cached_slow_v"].value() == 7
    assert fams["pg_scrape_collector_success"].value(collector="pg_cached_slow") == 1


@pytest.mark.timeout(60)
def test_two_dsns_of_one_server_and_discovery_never_repeat_a_series(
    tables: ScratchDb, make_exporter: object, tmp_path: Path
) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text("pg_server_wide:\n  query: SELECT count(*) AS databases FROM pg_database\n"
                    "  metrics:\n    - databases:\n        usage: GAUGE\n")
    queries = QueriesState(str(path), LOG)
    queries.load()
    other = tables.dsn.replace(f"dbname={tables.name}", "dbname=postgres")
    exporter = make_exporter([tables.dsn, other], queries=queries)  # type: ignore[operator]
    text = render_text(exporter.collect(time.monotonic() + 10)).decode()
    series = [line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")]
    assert len(series) == len(set(series)), "a repeated series"
    fams = parse(text)
    assert len(fams["pg_static"].samples) == 1, "server-wide built-ins once per server"
    assert fams["pg_exporter_duplicate_series_dropped_total"].value() == 1, "the queries file's repeat dropped"
    discovering = make_exporter([other], queries=queries, auto_discover_databases=True,  # type: ignore[operator]
                                include_databases=(tables.name,))
    text = render_text(discovering.collect(time.monotonic() + 10)).decode()
    series = [line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")]
    assert len(series) == len(set(series))
    assert parse(text)["pg_exporter_duplicate_series_dropped_total"].value() == 1
