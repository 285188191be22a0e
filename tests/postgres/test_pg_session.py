"""The executor against the real PostgreSQL 15 service (in-process).

A scrape's statements travel in one pipeline, each its own transaction: a failure costs
only itself, no lock outlives its statement, the built-ins run read-only and the queries
file's in the session's default access mode.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from exporters.postgres.collectors import SPECS
from exporters.postgres.connection import RowBudget, Statement, Target
from exporters.postgres.dsn import Dsn
from exporters.postgres.exporter import Options, PostgresExporter
from tests.postgres.conftest import ScratchDb

LOG = logging.getLogger("exporters.test.postgres.session")


@pytest.fixture
def target(scratch_db: ScratchDb) -> Iterator[Target]:
    found = Target(Dsn.parse(scratch_db.dsn), LOG)
    try:
        yield found
    finally:
        found.close()


def run(target: Target, *statements: Statement, seconds: float = 5.0, budget: RowBudget | None = None) -> list:
    with target.lock:
        return target.run(list(statements), time.monotonic() + seconds, budget)


def user(text: str) -> Statement:
    return Statement(text, read_only=False)


@pytest.mark.timeout(30)
def test_each_statement_is_its_own_transaction_and_fails_alone(target: Target) -> None:
    xid = "SELECT txid_current()"
    results = run(target, user(xid), Statement("SELECT 1 / 0"), user(xid), Statement("SELECT $1::int AS c", ("3",)))
    assert results[0].rows[0][0] != results[2].rows[0][0], "one transaction each"
    assert not results[1].ok and results[1].sqlstate == "22012" and "division by zero" in results[1].error
    assert results[3].rows == [(3,)] and results[3].columns == ["c"]


@pytest.mark.timeout(30)
def test_builtins_are_read_only_and_the_queries_file_runs_in_the_default_mode(
    scratch_db: ScratchDb, target: Target
) -> None:
    name = f"session_rw_{int(time.time() * 1000) % 100000}"
    results = run(target, Statement(f"CREATE TABLE {name} (id int)"),
                  Statement(f"SELECT 1; CREATE TABLE {name} (id int)"),
                  user(f"CREATE TABLE {name} (id int)"), user(f"DROP TABLE {name}"),
                  user("CREATE TEMP TABLE session_tmp (a int); SELECT 5 AS five; SELECT 6 AS six"),
                  Statement("SELECT current_setting('transaction_read_only')"),
                  user("SELECT current_setting('transaction_read_only')"))
    assert results[0].sqlstate == "25006", "read-only transaction"
    assert not results[1].ok, "a built-in is never run with the simple protocol"
    assert results[2].ok and results[3].ok, (results[2].error, results[3].error)
    # several commands in one string: as upstream's driver, the rows of the first that has rows
    assert results[4].ok and results[4].rows == [(5,)] and results[4].columns == ["five"]
    assert results[5].rows == [("on",)] and results[6].rows == [("off",)]
    with scratch_db.connect() as conn:
        assert conn.execute("SELECT to_regclass(%s)", [name]).fetchone() == (None,)


@pytest.mark.timeout(30)
def test_timeouts_come_from_the_deadline(target: Target) -> None:
    show = "SELECT setting::int FROM pg_settings WHERE name IN ('statement_timeout', 'lock_timeout') ORDER BY name"
    builtin, custom, sleep = run(target, Statement(show), user(show), user("SELECT pg_sleep(10)"), seconds=2.0)
    lock_ms, statement_ms = (row[0] for row in builtin.rows)
    assert 0 < statement_ms <= 2000 and 0 < lock_ms <= 1000
    assert custom.rows[0][0] == 0, "a queries file's statements wait for locks as upstream's do"
    assert sleep.sqlstate == "57014", sleep.error  # query_canceled by statement_timeout


@pytest.mark.timeout(30)
def test_no_lock_outlives_its_statement(scratch_db: ScratchDb, target: Target) -> None:
    """A DDL issued mid-scrape waits for at most the statement that touched its table."""
    name = f"session_ddl_{int(time.time() * 1000) % 100000}"
    with scratch_db.connect() as admin:
        admin.execute(sql.SQL("CREATE TABLE {} (a int)").format(sql.Identifier(name)))
    own_locks = ("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation' "
                 "AND mode = 'AccessShareLock' AND relation::regclass::text LIKE 'session_ddl_%'")
    results: list = []
    worker = threading.Thread(target=lambda: results.extend(run(
        target, user(f"SELECT count(*) FROM {name}"), Statement(f"SELECT count(*) FROM {name}"),
        user(own_locks), user("SELECT pg_sleep(2)"), seconds=10)))
    worker.start()
    try:
        with scratch_db.connect() as admin:
            end = time.monotonic() + 8
            while time.monotonic() < end and not admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2)' AND state = 'active'"
            ).fetchone():
                time.sleep(0.02)
            admin.execute("SET lock_timeout = '1s'")
            # would fail with lock_timeout if the scrape still held its AccessShareLock
            admin.execute(sql.SQL("ALTER TABLE {} ADD COLUMN b int").format(sql.Identifier(name)))
    finally:
        worker.join(15)
        with scratch_db.connect() as admin:
            admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    assert [r.ok for r in results] == [True, True, True, True]
    assert results[2].rows == [(0,)], "a lock-counting query sees no lock of earlier statements"


@pytest.mark.timeout(30)
def test_rows_over_the_budget_are_counted_and_dropped(target: Target) -> None:
    budget = RowBudget(per_statement=10, total=15)
    first, second = run(target, Statement("SELECT g FROM generate_series(1, 5000) g"),
                        Statement("SELECT g FROM generate_series(1, 100) g"), budget=budget)
    assert first.rows == [(g,) for g in range(1, 11)] and first.dropped_rows == 4990
    assert len(second.rows) == 5 and second.dropped_rows == 95


@pytest.mark.timeout(30)
def test_a_terminated_connection_is_replaced_at_the_next_scrape(scratch_db: ScratchDb, target: Target) -> None:
    (first,) = run(target, Statement("SELECT pg_backend_pid()"))
    with scratch_db.connect() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first.rows[0][0]])
    (second,) = run(target, Statement("SELECT pg_backend_pid()"))
    assert second.ok and second.rows[0][0] != first.rows[0][0]


@pytest.mark.timeout(30)
def test_a_relation_whose_columns_changed_is_read_again(scratch_db: ScratchDb, target: Target) -> None:
    name = f"session_changing_{int(time.time() * 1000) % 100000}"
    table = sql.Identifier(name)
    query = f'SELECT * FROM "{name}"'
    with scratch_db.connect() as admin:
        admin.execute(sql.SQL("CREATE TABLE {} (a int)").format(table))
        admin.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(table))
    try:
        assert run(target, Statement(query))[0].columns == ["a"]
        with scratch_db.connect() as admin:
            admin.execute(sql.SQL("ALTER TABLE {} ADD COLUMN b int DEFAULT 2").format(table))
        (result,) = run(target, Statement(query))
        assert result.columns == ["a", "b"] and result.rows == [(1, 2)]
    finally:
        with scratch_db.connect() as admin:
            admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))


@pytest.mark.timeout(30)
def test_a_default_scrape_is_one_pipeline(scratch_db: ScratchDb, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[int] = []
    original = Target._pipeline

    def counting(self: Target, pgconn: object, batch: list, *args: object) -> None:
        sent.append(len(batch))
        original(self, pgconn, batch, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Target, "_pipeline", counting)
    monkeypatch.setattr(Target, "_simple", lambda *a: pytest.fail("no statement of a default scrape runs alone"))
    exporter = PostgresExporter([Dsn.parse(scratch_db.dsn)], Options(), None,
                                [s for s in SPECS if s.enabled_by_default], LOG)
    try:
        families = exporter.collect(time.monotonic() + 10)
    finally:
        exporter.close()
    names = {f.name for f in families}
    assert {"pg_static", "pg_database_size_bytes", "pg_stat_activity_count", "pg_up"} <= names
    assert len(sent) == 1 and sent[0] > 15


def test_psycopg_pipeline_support() -> None:
    assert psycopg.Pipeline.is_supported(), "libpq >= 14 is needed for the pipeline"
