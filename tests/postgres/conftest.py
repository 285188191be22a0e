"""Fixtures for the postgres exporter tests: a scratch database, a private cluster, PG 16.

The shared server (``postgres_dsn``) only ever gets a database and roles named
``exporters_test_<random>``, dropped at teardown. Tests that stop a server use a private
cluster made with initdb on a free port.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.conftest import free_port, missing

# the Debian/Ubuntu location of the PostgreSQL 15 server binaries; EXPORTERS_PG_BINDIR overrides it
PG15_BIN = Path(os.environ.get("EXPORTERS_PG_BINDIR", "/usr/lib/postgresql/15/bin"))


def scrape(url: str, timeout: float = 20.0, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def with_db(dsn: str, dbname: str, **extra: str) -> str:
    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    params.update(extra)
    return make_conninfo("", **{k: str(v) for k, v in params.items() if v is not None})


def as_uri(dsn: str) -> str:
    """A postgresql:// URI for a key=value DSN (the reference exporter wants URIs)."""
    p = conninfo_to_dict(dsn)
    user = p.get("user", "")
    password = p.get("password", "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = p.get("host", "127.0.0.1")
    port = p.get("port", "5432")
    return f"postgresql://{auth}{host}:{port}/{p.get('dbname', 'postgres')}?sslmode=disable"


@dataclass
class ScratchDb:
    admin_dsn: str
    name: str

    @property
    def dsn(self) -> str:
        return with_db(self.admin_dsn, self.name)

    def connect(self, **kwargs: object) -> psycopg.Connection:  # type: ignore[type-arg]
        return psycopg.connect(self.dsn, autocommit=True, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def scratch_db(postgres_dsn: str) -> Iterator[ScratchDb]:
    """A database of its own on the shared server, dropped at teardown."""
    name = f"exporters_test_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield ScratchDb(postgres_dsn, name)
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@dataclass
class MonitorRole:
    name: str
    password: str
    dsn: str


@pytest.fixture(scope="session")
def monitor_role(postgres_dsn: str, scratch_db: ScratchDb) -> Iterator[MonitorRole]:
    """A login role that has only pg_monitor, dropped at teardown."""
    name = f"exporters_test_mon_{secrets.token_hex(4)}"
    password = "S3cret-" + secrets.token_hex(6)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
        conn.execute(sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(name)))
    try:
        yield MonitorRole(name, password, with_db(postgres_dsn, scratch_db.name, user=name, password=password))
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [name])
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@dataclass
class PrivateCluster:
    datadir: Path
    port: int
    run_as: list[str]

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = [*self.run_as, str(PG15_BIN / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "30", *args]
        return subprocess.run(cmd, capture_output=True, timeout=60, check=check)

    def start(self) -> None:
        self.ctl("-o", f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1",
                 "-l", str(self.datadir / "server.log"), "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop", check=False)


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    """A PostgreSQL 15 cluster of this test's own (initdb), on a free port."""
    if not (PG15_BIN / "initdb").exists():
        missing("PostgreSQL 15 server binaries (initdb)")
    # not under pytest's tmp dir: as root that is private to root and the server runs as postgres
    base = Path(tempfile.mkdtemp(prefix="exporters-pgcluster-"))
    datadir = base / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            missing("runuser (to run initdb as a non-root user)")
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
        base.chmod(0o700)
    init = subprocess.run(
        [*run_as, str(PG15_BIN / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        capture_output=True, timeout=120,
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr.decode()[-500:]}")
    cluster = PrivateCluster(datadir, free_port(), run_as)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg16_dsn() -> Iterator[str]:
    """PostgreSQL 16 from the pgserver wheel, in a temporary directory of its own.

    Run as root, pgserver starts the server as its own system user, which must reach the
    data directory: not under pytest's base directory, which every pytest run (of any
    checkout on the machine) resets to mode 0700. Its lock and sockets go to a runtime
    directory of this run, not the shared /tmp/runtime-0.
    """
    root = Path(tempfile.mkdtemp(prefix="exporters-pg16-"))
    root.chmod(0o755)
    runtime = root / "runtime"
    runtime.mkdir(mode=0o777)
    previous = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        yield from _pg16(root / "data")
    finally:
        if previous is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = previous
        shutil.rmtree(root, ignore_errors=True)


def _pg16(datadir: Path) -> Iterator[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import pgserver  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            missing("the pgserver wheel (PostgreSQL 16)")
    server = None
    # pgserver gives pg_ctl start only 10 s; on a busy machine the server may need longer,
    # and asking again finds it running
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = pgserver.get_server(str(datadir), cleanup_mode="stop")
            break
        except subprocess.TimeoutExpired:
            if attempt == 2:
                raise
            time.sleep(2)
    assert server is not None
    try:
        uri = server.get_uri()
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(uri, connect_timeout=3).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield uri
    finally:
        server.cleanup()
