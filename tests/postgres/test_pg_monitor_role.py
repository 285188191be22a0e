"""A role with only pg_monitor: built-ins and the shipped queries see correct values."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import psycopg
import pytest

from exporters.core.exposition import render_text
from exporters.postgres.collectors import SPECS
from exporters.postgres.dsn import Dsn
from exporters.postgres.exporter import Options, PostgresExporter, QueriesState
from tests.postgres.conftest import MonitorRole, ScratchDb
from tests.postgres.expo import parse

SHIPPED = Path(__file__).resolve().parents[2] / "queries" / "queries.yaml"
LOG = logging.getLogger("exporters.test.postgres")


@pytest.mark.timeout(60)
def test_pg_monitor_is_enough(scratch_db: ScratchDb, monitor_role: MonitorRole) -> None:
    with scratch_db.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS mon_items (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO mon_items SELECT g, 'x' FROM generate_series(1, 100) g ON CONFLICT DO NOTHING")
        truth_size = conn.execute("SELECT pg_table_size('mon_items')").fetchone()
        truth_db = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        truth_wal = conn.execute("SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'").fetchone()
    # a superuser's session the monitor role must see (pg_read_all_stats)
    other = psycopg.connect(scratch_db.dsn, autocommit=True, application_name="exporters-test-other")
    try:
        other.execute("BEGIN")
        other.execute("SELECT 1")
        queries = QueriesState(str(SHIPPED), LOG)
        queries.load()
        exporter = PostgresExporter([Dsn.parse(monitor_role.dsn)], Options(), queries,
                                    [s for s in SPECS if s.enabled_by_default], LOG)
        try:
            fams = parse(render_text(exporter.collect(time.monotonic() + 10)).decode())
        finally:
            exporter.close()
    finally:
        other.close()
    assert fams["pg_up"].value() == 1
    assert fams["pg_exporter_last_scrape_error"].value() == 0
    assert all(v == 1 for v in fams["pg_scrape_collector_success"].values()), fams["pg_scrape_collector_success"]
    assert truth_size is not None and truth_db is not None and truth_wal is not None
    assert fams["pg_table_size_bytes"].value(relname="mon_items") == truth_size[0]
    assert fams["pg_database_size_bytes"].value(datname=scratch_db.name) == pytest.approx(truth_db[0], rel=0.05)
    assert fams["pg_wal_segments"].value() == truth_wal[0]
    idle_in_tx = fams["pg_stat_activity_count"].values(datname=scratch_db.name, state="idle in transaction",
                                                       application_name="exporters-test-other")
    assert idle_in_tx == [1.0], "another role's session is visible"
    assert fams["pg_settings_max_connections"].value() > 0
    assert monitor_role.password not in render_text([]).decode()
