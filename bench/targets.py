"""The pairs of exporters compared: the Debian-packaged Go binary and ours, same target, same flags."""

from __future__ import annotations

import re
import shutil
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.harness import ExporterUnavailable, Launch

GO_BINARIES = {
    "node": "prometheus-node-exporter",
    "postgres": "prometheus-postgres-exporter",
    "redis": "prometheus-redis-exporter",
}

# Ports the real exporters own on a host; never used by the benchmark.
RESERVED_PORTS = frozenset({9100, 9187, 9121})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (never an exporter's own)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


def go_binary(kind: str) -> str:
    path = shutil.which(GO_BINARIES[kind])
    if path is None:
        raise ExporterUnavailable(f"reference binary {GO_BINARIES[kind]} is not installed")
    return path


def _has_line(pattern: bytes) -> Callable[[bytes], bool]:
    regex = re.compile(pattern, re.MULTILINE)

    def good(body: bytes) -> bool:
        return regex.search(body) is not None

    return good


# A scrape is "good" once the exporter reports its target up (or, for node, a collector ran).
GOOD = {
    "node": _has_line(rb"^node_scrape_collector_success\{"),
    "postgres": _has_line(rb"^pg_up 1(\.0)?$"),
    "redis": _has_line(rb"^redis_up 1(\.0)?$"),
}


@dataclass(frozen=True)
class Pair:
    kind: str
    go: Launch
    ours: Launch


def _listen_flag(kind: str) -> str:
    # redis_exporter uses Go's flag package (single dash); the others use kingpin.
    return "-web.listen-address" if kind == "redis" else "--web.listen-address"


def make_pair(
    kind: str, args: Sequence[str] = (), env: dict[str, str] | None = None, ours_extra: Sequence[str] = (),
) -> Pair:
    """The Go exporter and ours with the same ``args`` and environment, each on a free port.

    ``ours_extra`` goes to ours only, e.g. to switch off collectors the older Go binary lacks.
    """
    flag = _listen_flag(kind)
    go_port = free_port()
    ours_port = free_port()
    while ours_port == go_port:
        ours_port = free_port()
    go = Launch(
        label="go",
        argv=[go_binary(kind), f"{flag}=127.0.0.1:{go_port}", *args],
        port=go_port,
        good=GOOD[kind],
        env=dict(env or {}),
    )
    ours = Launch(
        label="ours",
        argv=[sys.executable, "-m", f"exporters.{kind}", f"{flag}=127.0.0.1:{ours_port}", *args, *ours_extra],
        port=ours_port,
        good=GOOD[kind],
        env=dict(env or {}),
    )
    return Pair(kind, go, ours)


def node_args(extra: Sequence[str] = ()) -> list[str]:
    return list(extra)


def postgres_env(dsn: str) -> dict[str, str]:
    return {"DATA_SOURCE_NAME": dsn}


def postgres_args(queries_file: str | None) -> list[str]:
    return [f"--extend.query-path={queries_file}"] if queries_file else []


def redis_args(addr: str, check_keys: str = "", count_keys: str = "") -> list[str]:
    args = [f"-redis.addr={addr}"]
    if check_keys:
        args.append(f"-check-keys={check_keys}")
    if count_keys:
        args.append(f"-count-keys={count_keys}")
    return args
