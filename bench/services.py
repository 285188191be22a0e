"""Workloads the benchmark sets up itself and tears down after: a scratch PostgreSQL database
with many tables, a private Redis server with many keys."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.harness import REPO, ExporterUnavailable
from bench.targets import free_port

log = logging.getLogger("bench")

CONNECT_TIMEOUT = 5
BENCH_QUERIES = Path(__file__).resolve().parent / "queries-tables.yaml"


def with_database(dsn: str, database: str) -> str:
    """``dsn`` (a URL) pointed at another database, query string kept."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def shipped_queries_file() -> Path | None:
    """The queries file the postgres exporter ships (queries/), if there is one yet."""
    directory = REPO / "queries"
    if not directory.is_dir():
        return None
    candidates = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    preferred = [p for p in candidates if p.stem == "queries"]
    chosen = preferred or candidates
    return chosen[0] if chosen else None


def queries_file(choice: str) -> str | None:
    """``choice``: "shipped" (queries/ or the benchmark's own table query), "none", or a path."""
    if choice == "none":
        return None
    if choice == "shipped":
        found = shipped_queries_file()
        return str(found if found is not None else BENCH_QUERIES)
    return choice


def check_postgres(dsn: str) -> None:
    import psycopg

    try:
        psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT).close()
    except psycopg.Error as err:
        raise ExporterUnavailable(f"PostgreSQL at {redact(dsn)} is not reachable: {err}") from None


@contextmanager
def scratch_database(dsn: str, tables: int, batch: int = 500) -> Iterator[str]:
    """A fresh database with ``tables`` small tables (one row each, one index); dropped after."""
    import psycopg

    check_postgres(dsn)
    name = f"exporters_bench_{int(time.time())}_{tables}"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    target = with_database(dsn, name)
    try:
        started = time.perf_counter()
        with psycopg.connect(target, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            for first in range(0, tables, batch):
                last = min(first + batch, tables)
                # One server-side loop per batch: far fewer round trips than one CREATE each.
                conn.execute(
                    "DO $$ BEGIN FOR i IN " + str(first) + ".." + str(last - 1) + " LOOP "
                    "EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i); "
                    "EXECUTE format('INSERT INTO t%s VALUES (1, ''x'')', i); "
                    "END LOOP; END $$"
                )
            conn.execute("ANALYZE")
        log.info("created %d tables in %.1fs", tables, time.perf_counter() - started)
        yield target
    finally:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def private_redis(keys: int = 0, server: str = "redis-server") -> Iterator[str]:
    """A redis-server of our own on a free port with ``keys`` string keys ``key:0..``; stopped after."""
    binary = shutil.which(server)
    if binary is None:
        raise ExporterUnavailable(f"{server} is not installed")
    import redis

    port = free_port()
    workdir = tempfile.mkdtemp(prefix="exporters-bench-redis-")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", workdir, "--protected-mode", "no"]
    if redis_server_major(binary) >= 7:
        # Redis 7.0 refuses DEBUG unless allowed; 6.x knows no such directive and allows it.
        argv += ["--enable-debug-command", "local"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=120, socket_connect_timeout=5)
        end = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > end or proc.poll() is not None:
                    raise ExporterUnavailable("private redis-server did not start") from None
                time.sleep(0.05)
        if keys:
            started = time.perf_counter()
            populate(client, keys)
            log.info("loaded %d keys in %.1fs", keys, time.perf_counter() - started)
        client.close()
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def redis_server_major(binary: str) -> int:
    """Major version of a redis-server binary ("Redis server v=7.0.15 ..."); 0 when unknown."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r"v=(\d+)\.", done.stdout)
    return int(match.group(1)) if match else 0


def populate(client: Any, keys: int) -> None:
    """``keys`` keys named key:0 .. key:N-1; DEBUG POPULATE when allowed, pipelined SETs otherwise."""
    import redis

    try:
        client.execute_command("DEBUG", "POPULATE", keys, "key", 16)
        return
    except redis.ResponseError:
        pass
    pipe = client.pipeline(transaction=False)
    for i in range(keys):
        pipe.set(f"key:{i}", "x" * 16)
        if i % 10000 == 9999:
            pipe.execute()
    pipe.execute()
