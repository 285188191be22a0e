"""Postgres exporter against a private cluster that the tests stop, hang, lock and lock out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningExporter
from tests.reliability.conftest import SLACK, HungPeer, PrivatePostgres, record, require_exporter, scrape
from tests.reliability.launch import launch

pytestmark = pytest.mark.timeout(90)

LOCK_QUERIES = """\
rel_locked:
  query: "SELECT count(*) AS rows FROM rel_locked"
  metrics:
    - rows:
        usage: "GAUGE"
        description: "Rows of a table someone holds ACCESS EXCLUSIVE."
rel_free:
  query: "SELECT 7 AS seven"
  metrics:
    - seven:
        usage: "GAUGE"
        description: "A query that needs no lock."
"""


def start_pg_exporter(tmp_path: Path, dsn: str, *args: str) -> RunningExporter:
    require_exporter("postgres")
    return launch("postgres", ["--config.file", str(tmp_path / "absent.yml"), *args], tmp_path,
                  env={"DATA_SOURCE_NAME": dsn})


@pytest.fixture
def pg_exporter(tmp_path: Path, postgres_up: PrivatePostgres) -> Iterator[RunningExporter]:
    exporter = start_pg_exporter(tmp_path, postgres_up.dsn())
    yield exporter
    exporter.stop()


def test_server_stopped_then_restarted(pg_exporter: RunningExporter, postgres_up: PrivatePostgres) -> None:
    """pg_up follows the server; it comes back without restarting the exporter."""
    before = scrape(pg_exporter.url + "/metrics")
    assert before.status == 200
    assert before.value("pg_up") == 1
    assert before.value("pg_stat_database_numbackends", datname="postgres") is not None
    postgres_up.stop()
    try:
        down = scrape(pg_exporter.url + "/metrics")
        down_again = scrape(pg_exporter.url + "/metrics")
    finally:
        postgres_up.start()
    for result in (down, down_again):
        assert result.status == 200
        assert result.seconds < 3 + SLACK
        assert result.value("pg_up") == 0
        assert result.value("pg_exporter_last_scrape_error") == 1
        assert result.value("pg_stat_database_numbackends", datname="postgres") is None
        assert result.value("process_resident_memory_bytes") is not None  # the exporter's own metrics stay
    assert (down_again.value("pg_exporter_scrapes_total") or 0) > (down.value("pg_exporter_scrapes_total") or 0)
    back = scrape(pg_exporter.url + "/metrics")
    assert back.status == 200
    assert back.value("pg_up") == 1
    assert back.value("pg_stat_database_numbackends", datname="postgres") is not None
    assert pg_exporter.proc.poll() is None
    record("postgres stopped, restarted", down_scrape_s=max(down.seconds, down_again.seconds), pg_up_down=0,
           pg_up_back=1, back_scrape_s=back.seconds)


def test_peer_that_never_answers(tmp_path: Path, hung_peer: HungPeer) -> None:
    """A TCP peer that accepts and stays silent: pg_up 0 inside the scrape deadline."""
    exporter = start_pg_exporter(tmp_path, f"postgresql://exporter:x@127.0.0.1:{hung_peer.port}/postgres"
                                           "?sslmode=disable")
    try:
        results = [scrape(exporter.url + "/metrics", timeout=3) for _ in range(2)]
    finally:
        exporter.stop()
    assert hung_peer.accepted, "the exporter never connected to the silent peer"
    for result in results:
        assert result.status == 200
        assert result.seconds < 3 + SLACK
        assert result.value("pg_up") == 0
    record("postgres hung peer", scrape_s=max(r.seconds for r in results), pg_up=0)


def test_peer_that_answers_garbage(tmp_path: Path, garbage_peer: HungPeer) -> None:
    """Something that is not PostgreSQL on the port: pg_up 0 in time."""
    exporter = start_pg_exporter(tmp_path, f"postgresql://exporter:x@127.0.0.1:{garbage_peer.port}/postgres"
                                           "?sslmode=disable")
    try:
        results = [scrape(exporter.url + "/metrics", timeout=3) for _ in range(2)]
    finally:
        exporter.stop()
    assert garbage_peer.accepted
    for result in results:
        assert result.status == 200
        assert result.seconds < 3 + SLACK
        assert result.value("pg_up") == 0
    record("postgres garbage peer", scrape_s=max(r.seconds for r in results), pg_up=0)


def test_query_blocked_by_access_exclusive_lock(tmp_path: Path, postgres_up: PrivatePostgres) -> None:
    """A custom query waits behind ACCESS EXCLUSIVE: only it is lost, the scrape stays in time."""
    queries = tmp_path / "queries.yaml"
    queries.write_text(LOCK_QUERIES)
    exporter = start_pg_exporter(tmp_path, postgres_up.dsn(), "--extend.query-path", str(queries))
    conn: Any = postgres_up.connect_superuser()
    try:
        free = scrape(exporter.url + "/metrics", timeout=4)
        conn.execute("LOCK TABLE rel_locked IN ACCESS EXCLUSIVE MODE")
        locked = scrape(exporter.url + "/metrics", timeout=4)
        conn.rollback()
        after = scrape(exporter.url + "/metrics", timeout=4)
    finally:
        conn.close()
        exporter.stop()
    assert free.value("rel_locked_rows") == 0
    assert locked.status == 200
    assert locked.seconds < 4 + SLACK
    assert locked.value("rel_locked_rows") is None
    assert locked.value("rel_free_seven") == 7
    assert locked.value("pg_up") == 1
    assert locked.value("pg_exporter_last_scrape_error") == 1
    assert locked.value("pg_stat_database_numbackends", datname="postgres") is not None
    assert after.value("rel_locked_rows") == 0
    assert after.value("pg_exporter_last_scrape_error") == 0
    assert "rel_locked" in exporter.log()
    record("postgres ACCESS EXCLUSIVE lock", scrape_s=locked.seconds, pg_up=1, last_scrape_error=1)


def test_wrong_password(tmp_path: Path, postgres_up: PrivatePostgres) -> None:
    wrong = "Wr0ng-Password-Not-Logged-4417"
    exporter = start_pg_exporter(tmp_path, postgres_up.dsn(password=wrong))
    try:
        result = scrape(exporter.url + "/metrics")
    finally:
        exporter.stop()
    assert result.status == 200
    assert result.seconds < 3 + SLACK
    assert result.value("pg_up") == 0
    log = exporter.log()
    assert "password authentication failed" in log or "authentication" in log
    assert wrong not in log
    assert wrong not in result.text
    record("postgres wrong password", scrape_s=result.seconds, pg_up=0)


def test_role_without_pg_monitor(tmp_path: Path, postgres_up: PrivatePostgres) -> None:
    """A role lacking pg_monitor still connects; what it may not read is reported, not fatal."""
    exporter = start_pg_exporter(tmp_path, postgres_up.dsn(user="nomonitor"))
    try:
        result = scrape(exporter.url + "/metrics")
    finally:
        exporter.stop()
    assert result.status == 200
    assert result.seconds < 3 + SLACK
    assert result.value("pg_up") == 1
    assert result.value("pg_stat_database_numbackends", datname="postgres") is not None
    assert result.value("pg_settings_max_connections") == 60
    failed = [labels["collector"] for name, labels, value in result.samples()
              if name == "pg_scrape_collector_success" and value == 0]
    log = exporter.log()
    for collector in failed:
        assert collector in log, f"collector {collector} failed without a log line naming it"
    assert PrivatePostgres.PASSWORD not in log
    record("postgres role without pg_monitor", scrape_s=result.seconds, pg_up=1, failed_collectors=failed)


@pytest.mark.timeout(60)
def test_concurrent_scrapes_while_server_hangs(tmp_path: Path, postgres_up: PrivatePostgres) -> None:
    """Scrapes arriving while one is stuck behind a lock take turns and each meets its deadline."""
    queries = tmp_path / "queries.yaml"
    queries.write_text(LOCK_QUERIES)
    exporter = start_pg_exporter(tmp_path, postgres_up.dsn(), "--extend.query-path", str(queries))
    conn: Any = postgres_up.connect_superuser()
    results: list[Any] = []
    try:
        conn.execute("LOCK TABLE rel_locked IN ACCESS EXCLUSIVE MODE")
        threads = [threading.Thread(target=lambda: results.append(scrape(exporter.url + "/metrics", timeout=3)))
                   for _ in range(4)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        elapsed = time.monotonic() - began
    finally:
        conn.rollback()
        conn.close()
        exporter.stop()
    assert len(results) == 4
    for result in results:
        assert result.status == 200
        assert result.seconds < 3 + SLACK
    assert elapsed < 3 + 2 * SLACK
    record("postgres 4 concurrent scrapes behind a lock", max_scrape_s=max(r.seconds for r in results),
           wall_s=elapsed)
