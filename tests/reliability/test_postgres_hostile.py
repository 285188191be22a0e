"""Postgres exporter against hostile callers and huge or odd data (issue: multi-target and huge data).

Fake servers at the socket boundary capture what a probe would send; a private cluster holds
a SQL_ASCII database and a database name that is not valid UTF-8.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import requests

from tests.conftest import RunningExporter
from tests.reliability.conftest import PrivatePostgres, record, require_exporter, scrape
from tests.reliability.launch import launch

pytestmark = pytest.mark.timeout(120)
MODULE_SECRET = "Module-Secret-3141"
ENV_SECRET = "Env-Secret-2718"


class PasswordTrap:
    """A fake PostgreSQL server: asks every client for a cleartext password and keeps it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.passwords: list[str] = []
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            length = struct.unpack("!I", conn.recv(4))[0]
            body = conn.recv(length - 4)
            if struct.unpack("!I", body[:4])[0] == 80877103:  # SSLRequest: no
                conn.sendall(b"N")
                length = struct.unpack("!I", conn.recv(4))[0]
                conn.recv(length - 4)
            conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
            kind = conn.recv(1)
            if kind == b"p":
                size = struct.unpack("!I", conn.recv(4))[0]
                self.passwords.append(conn.recv(size - 4).rstrip(b"\0").decode("utf-8", "replace"))
            error = b"SFATAL\0C28P01\0Mno\0\0"
            conn.sendall(b"E" + struct.pack("!I", len(error) + 4) + error)
        except (OSError, struct.error):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def trap() -> Iterator[PasswordTrap]:
    found = PasswordTrap()
    yield found
    found.close()


def probe_exporter(tmp_path: Path, *args: str) -> RunningExporter:
    require_exporter("postgres")
    config = tmp_path / "postgres_exporter.yml"
    config.write_text(f"auth_modules:\n  mon:\n    type: userpass\n    userpass:\n      username: exporter\n"
                      f"      password: {MODULE_SECRET}\n    options:\n      sslmode: disable\n")
    return launch("postgres", ["--config.file", str(config), *args], tmp_path,
                  env={"DATA_SOURCE_NAME": "", "PGPASSWORD": ENV_SECRET})


def probe(exporter: RunningExporter, target: str, module: str = "") -> requests.Response:
    url = f"{exporter.url}/probe?target={quote(target)}" + (f"&auth_module={module}" if module else "")
    return requests.get(url, timeout=30)


def test_probe_sends_credentials_only_to_named_targets(tmp_path: Path, trap: PasswordTrap,
                                                       postgres_up: PrivatePostgres) -> None:
    open_exporter = probe_exporter(tmp_path)
    try:
        refused = probe(open_exporter, f"127.0.0.1:{trap.port}/postgres", "mon")
        no_module = probe(open_exporter, f"127.0.0.1:{trap.port}/postgres?sslmode=disable")
        socket_target = probe(open_exporter, f"host={postgres_up.root} port={postgres_up.port} dbname=postgres "
                                             "user=postgres")
        own = probe(open_exporter, postgres_up.dsn())
    finally:
        open_exporter.stop()
    assert refused.status_code == 403 and "--probe.allowed-targets" in refused.text
    assert "--probe.send-credentials-to-any-target" in open_exporter.log()
    assert no_module.status_code == 200 and "pg_up 0" in no_module.text, "probed with its own credentials only"
    assert socket_target.status_code == 403, "a unix socket connects as the exporter's OS user"
    assert own.status_code == 200 and "pg_up 1" in own.text, "a target with its own password is probed"
    assert trap.passwords == [], "neither the auth_module's nor PGPASSWORD went to an unnamed target"

    allowed = f"127.0.0.1:{postgres_up.port}"
    listed = probe_exporter(tmp_path, "--probe.allowed-targets", allowed)
    try:
        bypasses = [
            f"host=127.0.0.1 hostaddr=127.0.0.1 port={trap.port} dbname=postgres sslmode=disable",
            f"host=db.allowed.example hostaddr=127.0.0.1 port={trap.port} dbname=postgres sslmode=disable",
            f"host=127.0.0.1,127.0.0.1 port={postgres_up.port},{trap.port} dbname=postgres sslmode=disable",
            f"postgresql://127.0.0.1:{postgres_up.port},127.0.0.1:{trap.port}/postgres?sslmode=disable",
        ]
        answers = [probe(listed, target, "mon").status_code for target in bypasses]
        good = probe(listed, postgres_up.dsn())
    finally:
        listed.stop()
    assert answers == [403] * len(bypasses)
    assert good.status_code == 200 and "pg_up 1" in good.text
    assert trap.passwords == []

    unsafe = probe_exporter(tmp_path, "--probe.send-credentials-to-any-target")
    try:
        probe(unsafe, f"127.0.0.1:{trap.port}/postgres?sslmode=disable", "mon")
    finally:
        unsafe.stop()
    assert trap.passwords == [MODULE_SECRET], "the flag restores upstream's behaviour (and the trap works)"
    for exporter in (open_exporter, listed, unsafe):
        assert MODULE_SECRET not in exporter.log() and ENV_SECRET not in exporter.log()
    record("postgres probe credentials to unnamed targets", passwords_captured=0, bypasses_refused=len(bypasses))


def test_probe_connections_are_bounded_and_closed_when_idle(tmp_path: Path, postgres_up: PrivatePostgres) -> None:
    exporter = probe_exporter(tmp_path, "--probe.allowed-targets", f"127.0.0.1:{postgres_up.port}",
                              "--probe.max-connections", "3", "--probe.idle-timeout", "1s")
    count = ("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'hostile_probe_%'")
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(int(postgres_up.sql(count)[2:-3]))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    statuses: list[int] = []

    def one(i: int) -> None:
        target = f"127.0.0.1:{postgres_up.port}/postgres?application_name=hostile_probe_{i}&sslmode=disable"
        statuses.append(probe(exporter, target, "mon").status_code)

    try:
        workers = [threading.Thread(target=one, args=(i,)) for i in range(30)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        end = time.monotonic() + 20
        while time.monotonic() < end and int(postgres_up.sql(count)[2:-3]) > 0:
            time.sleep(0.1)
        left = int(postgres_up.sql(count)[2:-3])
    finally:
        stop.set()
        watcher.join(5)
        exporter.stop()
    assert statuses == [200] * 30
    assert max(seen) <= 3, f"at most 3 probe connections at once, saw {max(seen)}"
    assert left == 0, "idle probe connections are closed"
    record("postgres probe connections", probes=30, most_open=max(seen), left_open=left)


def test_non_utf8_database_name_and_sql_ascii_never_fail_the_scrape(
    tmp_path: Path, postgres_up: PrivatePostgres
) -> None:
    require_exporter("postgres")
    postgres_up.sql("DROP DATABASE IF EXISTS rel_ascii")
    postgres_up.sql("CREATE DATABASE rel_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    postgres_up.sql("GRANT CONNECT ON DATABASE rel_ascii TO exporter")
    raw = b'CREATE DATABASE "rel_caf\xe9" TEMPLATE template0 ENCODING \'SQL_ASCII\' LC_COLLATE \'C\' LC_CTYPE \'C\''
    with psycopg.connect(postgres_up.dsn("postgres", "", "rel_ascii"), autocommit=True) as conn:
        conn.execute("SET client_encoding = 'SQL_ASCII'")
        conn.execute(b'DROP DATABASE IF EXISTS "rel_caf\xe9"')
        conn.execute(raw)
        conn.execute(b"CREATE TABLE IF NOT EXISTS rel_bytes_t (v text)")
        conn.execute(b"INSERT INTO rel_bytes_t VALUES ('\xff\xfe')")
    queries = tmp_path / "queries.yaml"
    queries.write_text("rel_bytes:\n  query: SELECT v AS label, 1 AS one FROM rel_bytes_t\n  metrics:\n"
                       "    - label:\n        usage: LABEL\n    - one:\n        usage: GAUGE\n")
    for database in ("rel_ascii", "postgres"):
        exporter = launch("postgres", ["--config.file", str(tmp_path / "absent.yml"), "--extend.query-path",
                                       str(queries)], tmp_path,
                          env={"DATA_SOURCE_NAME": postgres_up.dsn("postgres", "", database)})
        try:
            result = scrape(exporter.url + "/metrics", timeout=5)
        finally:
            exporter.stop()
        assert result.status == 200
        assert result.value("pg_up") == 1
        assert result.value("pg_settings_max_connections") == 60, "a SQL_ASCII database keeps pg_settings_*"
        sizes = [s[1].get("datname") for s in result.samples() if s[0] == "pg_database_size_bytes"]
        assert "rel_caf\ufffd" in sizes, sizes
        failed = [s[1]["collector"] for s in result.samples()
                  if s[0] == "pg_scrape_collector_success" and s[2] != 1]
        assert failed == ([] if database == "rel_ascii" else ["rel_bytes"]), failed
        if database == "rel_ascii":
            assert result.value("rel_bytes_one", label="\ufffd\ufffd") == 1
    record("postgres non-UTF-8 names and SQL_ASCII", status=200, failed_collectors=0)


HUGE = """\
rel_rows:
  query: "SELECT g AS v, g::text AS row FROM generate_series(1, 1000000) g"
  metrics:
    - row:
        usage: "LABEL"
        description: "One series per row."
    - v:
        usage: "GAUGE"
        description: "The row number."
"""


def test_a_million_row_query_is_capped_and_the_deadline_kept(tmp_path: Path, postgres_up: PrivatePostgres) -> None:
    require_exporter("postgres")
    queries = tmp_path / "queries.yaml"
    queries.write_text(HUGE)
    exporter = launch("postgres", ["--config.file", str(tmp_path / "absent.yml"), "--extend.query-path",
                                   str(queries), "--scrape.max-rows-per-query", "100000"], tmp_path,
                      env={"DATA_SOURCE_NAME": postgres_up.dsn()})
    try:
        result = scrape(exporter.url + "/metrics", timeout=4)
    finally:
        exporter.stop()
    assert result.status == 200
    assert result.value("pg_up") == 1
    assert result.value("pg_exporter_rows_dropped_total") == 900_000
    assert sum(1 for s in result.samples() if s[0] == "rel_rows_v") == 100_000
    assert result.seconds < 4 + 3, f"{result.seconds:.1f}s for a 4 s deadline"
    record("postgres 1M-row query", rows_kept=100_000, rows_dropped=900_000, seconds=round(result.seconds, 2))


@pytest.mark.parametrize("header", ["1e10", "inf", "3000000", "nan", "-1", "0"])
def test_any_scrape_timeout_header_answers(tmp_path: Path, postgres_up: PrivatePostgres, header: str) -> None:
    require_exporter("postgres")
    exporter = launch("postgres", ["--config.file", str(tmp_path / "absent.yml")], tmp_path,
                      env={"DATA_SOURCE_NAME": postgres_up.dsn()})
    try:
        response = requests.get(exporter.url + "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": header},
                                timeout=60)
    finally:
        exporter.stop()
    assert response.status_code == 200, response.text[:300]
    assert "\npg_up 1\n" in "\n" + response.text


def test_secret_libpq_parameters_never_logged(tmp_path: Path) -> None:
    require_exporter("postgres")
    dsn = "host=127.0.0.1 port=1 user=u password=Pw-Secret-1 sslpassword=Key-Secret-2 sslmode=disable"
    exporter = launch("postgres", ["--config.file", str(tmp_path / "absent.yml"), "--log.level", "debug"], tmp_path,
                      env={"DATA_SOURCE_NAME": dsn})
    try:
        result = scrape(exporter.url + "/metrics", timeout=3)
    finally:
        exporter.stop()
    assert result.value("pg_up") == 0
    log = exporter.log()
    assert "Pw-Secret-1" not in log and "Key-Secret-2" not in log
    assert "sslpassword=PASSWORD_REMOVED" in log
