"""The shipped queries file against live servers: slow queries, locks, sizes and bloat.

Runs on the PostgreSQL 15 service and on PostgreSQL 16 from the pgserver wheel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from exporters.core.exposition import render_text
from exporters.postgres.collectors import SPECS
from exporters.postgres.dsn import Dsn
from exporters.postgres.exporter import Options, PostgresExporter, QueriesState
from tests.postgres.conftest import ScratchDb
from tests.postgres.expo import Family, parse

SHIPPED = Path(__file__).resolve().parents[2] / "queries" / "queries.yaml"
LOG = logging.getLogger("exporters.test.postgres")


@pytest.fixture(params=["pg15", "pg16"])
def server_dsn(request: pytest.FixtureRequest) -> str:
    if request.param == "pg15":
        db: ScratchDb = request.getfixturevalue("scratch_db")
        return db.dsn
    return str(request.getfixturevalue("pg16_dsn"))


class Background:
    """Statements running in their own connections while the test scrapes."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.threads: list[threading.Thread] = []
        self.conns: list[psycopg.Connection] = []  # type: ignore[type-arg]

    def connect(self) -> psycopg.Connection:  # type: ignore[type-arg]
        conn = psycopg.connect(self.dsn, autocommit=True)
        self.conns.append(conn)
        return conn

    def run(self, statement: str) -> None:
        conn = self.connect()

        def go() -> None:
            try:
                conn.execute(statement)
            except psycopg.Error:
                pass  # cancelled at teardown

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        self.threads.append(thread)

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.cancel_safe(timeout=5)
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
        for thread in self.threads:
            thread.join(10)
        for conn in self.conns:
            conn.close()


@pytest.fixture
def background(server_dsn: str) -> Iterator[Background]:
    bg = Background(server_dsn)
    yield bg
    bg.close()


def scrape(dsn: str, timeout: float = 8.0) -> tuple[dict[str, Family], float]:
    queries = QueriesState(str(SHIPPED), LOG)
    queries.load()
    exporter = PostgresExporter([Dsn.parse(dsn)], Options(), queries, [s for s in SPECS if s.enabled_by_default], LOG)
    try:
        began = time.monotonic()
        text = render_text(exporter.collect(time.monotonic() + timeout)).decode()
        return parse(text), time.monotonic() - began
    finally:
        exporter.close()


@pytest.mark.timeout(90)
def test_shipped_queries_see_slow_queries_locks_and_sizes(server_dsn: str, background: Background) -> None:
    setup = background.connect()
    setup.execute("DROP TABLE IF EXISTS shipped_bloaty, shipped_locked")
    setup.execute("CREATE TABLE shipped_bloaty (id int PRIMARY KEY, pad text)")
    setup.execute("INSERT INTO shipped_bloaty SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g")
    setup.execute("DELETE FROM shipped_bloaty WHERE id % 2 = 0")
    setup.execute("SELECT pg_stat_force_next_flush()")
    setup.execute("CREATE TABLE shipped_locked (id int)")
    dbname = str(setup.execute("SELECT current_database()").fetchone()[0])  # type: ignore[index]

    holder = background.connect()
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE shipped_locked IN ACCESS EXCLUSIVE MODE")
    background.run("BEGIN; LOCK TABLE shipped_locked IN SHARE MODE; COMMIT")  # waits behind the holder
    background.run("SELECT pg_sleep(3)")
    time.sleep(1.6)

    fams, took = scrape(server_dsn)
    holder.execute("ROLLBACK")

    assert fams["pg_exporter_last_scrape_error"].value() == 0
    assert all(v == 1 for v in fams["pg_scrape_collector_success"].values()), fams["pg_scrape_collector_success"]
    assert fams["pg_stat_user_tables_size_bytes"].values(relname="shipped_locked") == []
    assert fams["pg_stat_user_tables_size_bytes"].value(relname="shipped_bloaty") > 0
    assert fams["pg_slow_query_count"].value(datname=dbname) >= 1
    assert fams["pg_slow_query_max_duration_seconds"].value(datname=dbname) >= 1.0
    assert fams["pg_lock_mode_granted"].value(mode="AccessExclusiveLock") >= 1
    assert fams["pg_lock_mode_waiting"].value(mode="ShareLock") >= 1
    assert fams["pg_lock_type_waiting"].value(locktype="relation") >= 1
    assert fams["pg_lock_wait_sessions"].value() >= 1
    assert fams["pg_lock_wait_max_seconds"].value() > 0.5
    size = fams["pg_table_size_bytes"].value(datname=dbname, relname="shipped_bloaty", schemaname="public")
    total = fams["pg_table_total_size_bytes"].value(relname="shipped_bloaty")
    index = fams["pg_table_index_size_bytes"].value(relname="shipped_bloaty")
    assert size > 400_000 and index > 0 and total >= size + index
    ratio = fams["pg_table_bloat_ratio"].value(relname="shipped_bloaty")
    assert 0.3 < ratio < 0.7
    assert fams["pg_table_bloat_bytes"].value(relname="shipped_bloaty") == pytest.approx(size * ratio)
    # the table under ACCESS EXCLUSIVE is skipped, and nothing waited for it
    assert fams["pg_table_size_bytes"].values(relname="shipped_locked") == []
    assert took < 5.0
    for name in ("pg_slow_query_count", "pg_table_size_bytes", "pg_lock_mode_granted"):
        assert fams[name].type == "gauge"
        assert "server" in fams[name].label_names()
