"""The scrape session's round trips against the real PostgreSQL 15 service (in-process).

A scrape costs one round trip per query at most: statements stay prepared from one scrape
to the next, the built-in queries travel in one pipeline, and what fails there is run
again on its own, so a failure still costs only its own metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from exporters.postgres.collectors import SPECS
from exporters.postgres.connection import QueryError, Session, Target
from exporters.postgres.dsn import Dsn
from exporters.postgres.exporter import VERSION_QUERY, Options, PostgresExporter
from tests.postgres.conftest import ScratchDb

LOG = logging.getLogger("exporters.test.postgres.session")


@pytest.fixture
def target(scratch_db: ScratchDb) -> Iterator[Target]:
    found = Target(Dsn.parse(scratch_db.dsn), LOG)
    try:
        yield found
    finally:
        found.close()


def prepared(session: Session) -> dict[str, object]:
    """statement text -> prepare_time of the session's own prepared statements."""
    rows = session.query("SELECT statement, prepare_time FROM pg_prepared_statements").rows
    return {str(text): when for text, when in rows}


@pytest.mark.timeout(30)
def test_statements_stay_prepared_from_one_scrape_to_the_next(scratch_db: ScratchDb) -> None:
    exporter = PostgresExporter([Dsn.parse(scratch_db.dsn)], Options(), None,
                                [s for s in SPECS if s.enabled_by_default], LOG)
    try:
        exporter.collect(time.monotonic() + 10)
        with exporter.targets[0].session(time.monotonic() + 10) as session:
            first = prepared(session)
        exporter.collect(time.monotonic() + 10)
        with exporter.targets[0].session(time.monotonic() + 10) as session:
            second = prepared(session)
    finally:
        exporter.close()
    assert VERSION_QUERY in first, sorted(first)
    # the same server-side statements, not prepared again on the second scrape
    assert first[VERSION_QUERY] == second[VERSION_QUERY]
    assert len([t for t in first if "pg_stat_database" in t]) >= 1


@pytest.mark.timeout(30)
def test_prefetch_answers_what_succeeded_and_reruns_the_rest(target: Target) -> None:
    with target.session(time.monotonic() + 5) as session:
        answered = session.prefetch([("SELECT 1 AS a", []), ("SELECT 1 / %s AS b", [0]), ("SELECT %s::int AS c", [3])])
        assert answered == 1
        assert session.query("SELECT 1 AS a").rows == [(1,)]
        with pytest.raises(psycopg.errors.DivisionByZero):
            session.query("SELECT 1 / %s AS b", [0])
        # aborted with the failing one in the pipeline: run on its own, in a usable session
        assert session.query("SELECT %s::int AS c", [3]).rows == [(3,)]
        assert session.query("SELECT %s::int AS c", [4]).rows == [(4,)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            session.query("CREATE TABLE must_not_exist (id int)")
        timeout = session.query("SELECT current_setting('statement_timeout')").rows[0][0]
        # back to the whole budget after the batch, not the batch's share
        assert timeout.endswith("ms") and 1000 < int(timeout[:-2]) <= 5000


@pytest.mark.timeout(30)
def test_a_batch_stays_within_the_deadline(target: Target) -> None:
    with target.session(time.monotonic() + 1.2) as session:
        began = time.monotonic()
        answered = session.prefetch([("SELECT pg_sleep(0.8) IS NULL AS slept", []), ("SELECT 5 AS five", [])])
        elapsed = time.monotonic() - began
        # each of the two got half of the 1 s budget: the sleep was cancelled at 0.5 s
        assert answered == 0
        assert elapsed < 0.9
        assert session.query("SELECT 5 AS five").rows == [(5,)]


@pytest.mark.timeout(30)
def test_a_query_that_ends_the_transaction_is_refused(target: Target) -> None:
    with target.session(time.monotonic() + 5) as session:
        for ending in ("COMMIT", "ROLLBACK"):
            with pytest.raises(QueryError):
                session.query(ending)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                session.query("CREATE TABLE must_not_exist (id int)")


@pytest.mark.timeout(30)
def test_a_terminated_connection_is_replaced_at_the_next_scrape(scratch_db: ScratchDb, target: Target) -> None:
    with target.session(time.monotonic() + 5) as session:
        pid = session.query("SELECT pg_backend_pid()").rows[0][0]
    with scratch_db.connect() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    with target.session(time.monotonic() + 5) as session:
        assert session.query("SELECT pg_backend_pid()").rows[0][0] != pid


@pytest.mark.timeout(30)
def test_a_relation_whose_columns_changed_is_read_again(scratch_db: ScratchDb, target: Target) -> None:
    name = f"session_changing_{int(time.time() * 1000) % 100000}"
    table = sql.Identifier(name)
    query = f'SELECT * FROM "{name}"'
    with scratch_db.connect() as admin:
        admin.execute(sql.SQL("CREATE TABLE {} (a int)").format(table))
        admin.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(table))
    try:
        with target.session(time.monotonic() + 5) as session:
            assert session.query(query).columns == ["a"]
        with scratch_db.connect() as admin:
            admin.execute(sql.SQL("ALTER TABLE {} ADD COLUMN b int DEFAULT 2").format(table))
        with target.session(time.monotonic() + 5) as session:
            result = session.query(query)
            assert result.columns == ["a", "b"] and result.rows == [(1, 2)]
    finally:
        with scratch_db.connect() as admin:
            admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))


@pytest.mark.timeout(30)
def test_a_default_scrape_answers_every_builtin_query_from_one_pipeline(
    scratch_db: ScratchDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_alone: list[str] = []
    original = Session._run

    def counting(self: Session, text: str, params: object) -> object:
        run_alone.append(text)
        return original(self, text, params)  # type: ignore[arg-type]

    monkeypatch.setattr(Session, "_run", counting)
    exporter = PostgresExporter([Dsn.parse(scratch_db.dsn)], Options(), None,
                                [s for s in SPECS if s.enabled_by_default], LOG)
    try:
        families = exporter.collect(time.monotonic() + 10)
    finally:
        exporter.close()
    names = {f.name for f in families}
    assert {"pg_static", "pg_database_size_bytes", "pg_stat_activity_count", "pg_up"} <= names
    assert run_alone == [], "queries that missed the pipeline: " + ", ".join(t.split()[1] for t in run_alone)
