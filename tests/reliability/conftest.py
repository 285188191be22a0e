"""Fault-injection helpers: private servers to break, a silent TCP peer, timed scrapes.

Every server here is private to the test run (its own port and data directory): the
suite stops, restarts and misconfigures them without touching shared services.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, missing

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/14/bin")
TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
# The exporter answers by the header's timeout minus --scrape.timeout-offset; the rest of a
# scrape (HTTP, rendering, a loaded 2-core CI machine) gets this much on top. The bound only
# has to tell "answered at its deadline" from "held until the fault went away" (the faults
# here hold for 10 s or more), so it is generous: a busy machine must not make it flaky.
SLACK = 3.0


# Measured results of the fault cases, written as JSON to $EXPORTERS_RELIABILITY_REPORT at the
# end of the run (the numbers in RELIABILITY.md come from there).
MEASUREMENTS: list[dict[str, object]] = []


def record(case: str, **values: object) -> None:
    MEASUREMENTS.append({"case": case, **{k: round(v, 3) if isinstance(v, float) else v
                                           for k, v in values.items()}})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("EXPORTERS_RELIABILITY_REPORT")
    if path and MEASUREMENTS:
        Path(path).write_text(json.dumps(MEASUREMENTS, indent=1) + "\n")


def exporter_present(kind: str) -> bool:
    return importlib.util.find_spec(f"exporters.{kind}.__main__") is not None


def require_exporter(kind: str) -> None:
    """Mark the running test as an expected failure while ``exporters.<kind>`` has no entry point."""
    if not exporter_present(kind):
        pytest.xfail(f"exporters.{kind} has no __main__ yet: the {kind} exporter cannot be started")


@dataclass
class Scrape:
    status: int
    text: str
    seconds: float

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        out: list[tuple[str, dict[str, str], float]] = []
        for family in text_string_to_metric_families(self.text):
            for sample in family.samples:
                out.append((sample.name, dict(sample.labels), float(sample.value)))
        return out

    def value(self, name: str, **labels: str) -> float | None:
        """The first sample called ``name`` whose labels include ``labels``; None if absent."""
        for sample_name, sample_labels, value in self.samples():
            if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items()):
                return value
        return None

    def names(self) -> set[str]:
        return {name for name, _, _ in self.samples()}


def scrape(url: str, timeout: float = 3.0, auth: tuple[str, str] | None = None,
           verify: bool | str = True) -> Scrape:
    """GET ``url`` announcing a Prometheus scrape timeout of ``timeout`` seconds; time it."""
    began = time.monotonic()
    response = requests.get(url, headers={TIMEOUT_HEADER: f"{timeout:g}"}, timeout=timeout + 30,
                            auth=auth, verify=verify)
    return Scrape(response.status_code, response.text, time.monotonic() - began)


class HungPeer:
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte.

    With ``reply`` set, it answers each chunk a client sends with those bytes instead
    (a server speaking the wrong protocol), and keeps the connection open.
    """

    def __init__(self, reply: bytes | None = None) -> None:
        self.reply = reply
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)
            if self.reply is not None:
                threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if not conn.recv(65536):
                    return
                conn.sendall(self.reply or b"")
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def hung_peer() -> Iterator[HungPeer]:
    peer = HungPeer()
    yield peer
    peer.close()


@pytest.fixture
def garbage_peer() -> Iterator[HungPeer]:
    """A peer answering every request with a malformed RESP/PostgreSQL reply."""
    peer = HungPeer(reply=b"*x\r\n$zz\r\nHTTP/1.1 400 Bad Request\r\n\r\n")
    yield peer
    peer.close()


# -- PostgreSQL -------------------------------------------------------------------------


def _pg_bin() -> str | None:
    """The directory of initdb/pg_ctl: Debian's versioned directories, else ``pg_config --bindir``."""
    pg_config = shutil.which("pg_config")
    candidates = list(PG_BIN_DIRS)
    if pg_config is not None:
        try:
            candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                             timeout=10).stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    for directory in candidates:
        if os.access(os.path.join(directory, "initdb"), os.X_OK):
            return directory
    return None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, run as the ``postgres`` OS user.

    Roles: ``postgres`` (superuser, trust over TCP), ``exporter`` (password, pg_monitor),
    ``nomonitor`` (password, no pg_monitor). Other TCP logins use scram-sha-256.
    """

    PASSWORD = "Rel1ability-Secret-7781"

    def __init__(self, bindir: str, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.log = root / "server.log"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                              check=check, timeout=timeout, cwd=self.root)

    def init(self) -> None:
        self._run(f"{self.bindir}/initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nfsync = off\nmax_connections = 60\n"
                       "password_encryption = 'scram-sha-256'\nshared_buffers = 16MB\n")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        self.start()
        self.sql(f"CREATE ROLE exporter LOGIN PASSWORD '{self.PASSWORD}' IN ROLE pg_monitor")
        self.sql(f"CREATE ROLE nomonitor LOGIN PASSWORD '{self.PASSWORD}'")
        self.sql("CREATE TABLE rel_locked (id int)")
        self.sql("CREATE TABLE rel_target (id int)")
        self.sql("GRANT ALL ON rel_target TO exporter")
        self.sql("GRANT SELECT ON rel_locked TO exporter")

    def start(self) -> None:
        self._run(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                  "-o", "-c fsync=off", "start")

    def stop(self) -> None:
        self._run(f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def running(self) -> bool:
        return self._run(f"{self.bindir}/pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def dsn(self, user: str = "exporter", password: str | None = None, database: str = "postgres") -> str:
        secret = self.PASSWORD if password is None else password
        auth = f"{user}:{secret}@" if secret else f"{user}@"
        return f"postgresql://{auth}127.0.0.1:{self.port}/{database}?sslmode=disable"

    def sql(self, statement: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn("postgres", ""), autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(statement.encode())
            return str(cur.fetchall()) if cur.description else ""

    def connect_superuser(self) -> object:
        import psycopg

        return psycopg.connect(self.dsn("postgres", ""), connect_timeout=5)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _pg_bin()
    if bindir is None or shutil.which("runuser") is None:
        missing("PostgreSQL server binaries (initdb) and runuser")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        missing("the postgres OS user")
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="exporters-pg-"))
    root.chmod(0o755)
    shutil.chown(root, "postgres", "postgres")
    cluster = PrivatePostgres(bindir, root)
    try:
        cluster.init()
    except subprocess.CalledProcessError as err:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"private PostgreSQL cluster did not start: {err.stderr}")
    yield cluster
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_up(private_postgres: PrivatePostgres) -> PrivatePostgres:
    """The private cluster, started again if a previous test left it stopped."""
    if not private_postgres.running():
        private_postgres.start()
    return private_postgres


# -- Redis ------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server on a free port of 127.0.0.1, no persistence."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                self.client().ping()
                return
            except Exception:  # noqa: BLE001 - retry until it answers
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    @property
    def addr(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server")
    assert binary is not None
    server = PrivateRedis(binary, tmp_path)
    server.start()
    yield server
    server.stop()
