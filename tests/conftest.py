"""Shared test fixtures: free ports, running exporters, local services, reference binaries.

Integration tests use the PostgreSQL and Redis servers named by the environment
(``EXPORTERS_PG_DSN``, ``EXPORTERS_REDIS_URL``; defaults: the local services on
127.0.0.1:5432 and 127.0.0.1:6379). Where none answers they fall back to
testcontainers if a Docker engine is reachable, and skip otherwise, unless
``EXPORTERS_REQUIRE_SERVICES`` is set, in which case a missing service fails the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = bool(os.environ.get("EXPORTERS_REQUIRE_SERVICES"))

REFERENCE_BINARIES = {
    "node": "prometheus-node-exporter",
    "postgres": "prometheus-postgres-exporter",
    "redis": "prometheus-redis-exporter",
    "promtool": "promtool",
    "prometheus": "prometheus",
    "alertmanager": "prometheus-alertmanager",
    "amtool": "amtool",
}
# Two generations of reference binaries, both from Debian:
#   "bookworm": Debian 12's installed packages (node_exporter 1.5.0, postgres_exporter 0.11.1,
#               redis_exporter 1.45.0, Prometheus 2.42), found on PATH;
#   "trixie":   Debian 13's (1.9.0, 0.17.1, 1.69.0, Prometheus 2.53.3), closer to the target
#               versions, unpacked without installing by .ci/fetch-oracles into
#               $EXPORTERS_ORACLES (default: .oracles in the repository).
GENERATIONS = ("bookworm", "trixie")
ORACLES = Path(os.environ.get("EXPORTERS_ORACLES") or REPO / ".oracles")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MISSING_SUFFIX = " not available"


def missing(what: str) -> None:
    """Skip, or fail when services are required (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (EXPORTERS_REQUIRE_SERVICES is set) but not available")
    pytest.skip(f"{what}{MISSING_SUFFIX}")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say how many integration items were skipped for lack of a service, and how to require them."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
        if reason.endswith(MISSING_SUFFIX):
            what = reason.removeprefix("Skipped: ")[: -len(MISSING_SUFFIX)]
            reasons[what] = reasons.get(what, 0) + 1
    if not reasons:
        return
    total = sum(reasons.values())
    terminalreporter.write_sep("=", f"{total} integration items skipped: service or reference binary missing",
                               yellow=True)
    for what, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"  {count:4d}  {what}")
    terminalreporter.write_line("  Set EXPORTERS_REQUIRE_SERVICES=1 to make them fail instead (CI does).")


def find_reference_binary(name: str, generation: str = "bookworm") -> str | None:
    """Path of a reference Go binary of one generation (see ``GENERATIONS``), or None."""
    if generation not in GENERATIONS:
        raise ValueError(f"unknown oracle generation {generation!r}")
    program = REFERENCE_BINARIES.get(name, name)
    if generation == "bookworm":
        return shutil.which(program)
    path = ORACLES / "usr" / "bin" / program
    return str(path) if os.access(path, os.X_OK) else None


def reference_binary(name: str, generation: str = "bookworm") -> str:
    """Path of a reference Go binary, or skip/fail (``generation``: see ``GENERATIONS``)."""
    binary = find_reference_binary(name, generation)
    if binary is None:
        missing(f"reference binary {REFERENCE_BINARIES.get(name, name)} ({generation})")
    assert binary is not None
    return binary


def wait_http(url: str, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers (any HTTP status), or fail."""
    end = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except Exception as err:  # noqa: BLE001 - retry until the deadline
            last = err
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


@dataclass
class RunningExporter:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    scheme: str = "http"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_exporter(
    kind: str,
    args: Sequence[str],
    tmp_path: Path,
    env: dict[str, str] | None = None,
    wait: bool = True,
    scheme: str = "http",
    port: int | None = None,
) -> RunningExporter:
    """Start ``python -m exporters.<kind>`` on a free port of 127.0.0.1."""
    port = port or free_port()
    log_path = tmp_path / f"{kind}-{port}.log"
    full_env = dict(os.environ)
    full_env.update(env or {})
    flag = "-web.listen-address" if kind == "redis" else "--web.listen-address"
    listen = [flag, f"127.0.0.1:{port}"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"exporters.{kind}", *listen, *args],
            stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=REPO,
        )
    running = RunningExporter(proc, port, log_path, scheme)
    if wait and scheme == "http":
        try:
            wait_http(f"http://127.0.0.1:{port}/", proc=proc)
        except Exception:  # noqa: BLE001 - re-raised with the exporter's log
            running.stop()
            raise RuntimeError(f"exporter did not start: {running.log()}") from None
    return running


@pytest.fixture
def exporter_factory(tmp_path: Path) -> Iterator[object]:
    """Start exporters; all are stopped at teardown."""
    started: list[RunningExporter] = []

    def factory(kind: str, args: Sequence[str] = (), **kwargs: object) -> RunningExporter:
        running = start_exporter(kind, args, tmp_path, **kwargs)  # type: ignore[arg-type]
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A DSN for a PostgreSQL server: the environment's, the local one, or a container."""
    dsn = os.environ.get("EXPORTERS_PG_DSN", "postgresql://root@127.0.0.1:5432/postgres?sslmode=disable")
    import psycopg

    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except Exception:  # noqa: BLE001 - fall back below
        pass
    else:
        yield dsn
        return
    if _docker_works():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as pg:
            yield pg.get_connection_url()
            return
    missing("PostgreSQL server")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A URL for a Redis server: the environment's, the local one, or a container."""
    url = os.environ.get("EXPORTERS_REDIS_URL", "redis://127.0.0.1:6379")
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=3).ping()
    except Exception:  # noqa: BLE001 - fall back below
        pass
    else:
        yield url
        return
    if _docker_works():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7.0") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}"
            return
    missing("Redis server")
