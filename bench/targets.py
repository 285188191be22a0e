"""What is compared: ours and the Go binaries of each generation, same target, same flags."""

from __future__ import annotations

import logging
import re
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bench.harness import ExporterUnavailable, Launch
from tests.conftest import find_reference_binary

log = logging.getLogger("bench")

# Which Go binaries ours is compared with, as columns: the first is the reference every ratio
# is taken against; the others are shown beside it. Generations as tests.conftest names them:
# "trixie" (node_exporter 1.9.0, postgres_exporter 0.17.1, redis_exporter 1.69.0, unpacked into
# $EXPORTERS_ORACLES by fetch-oracles) and "bookworm" (Debian 12's installed 1.5.0 / 0.11.1 / 1.45.0).
# A generation that is not there is left out.
DEFAULT_GO = ("trixie", "bookworm")
GO_ENV = "EXPORTERS_BENCH_GO"  # e.g. "bookworm" or "trixie,bookworm"
# A binary of your own as the first column, e.g. EXPORTERS_BENCH_GO_NODE=/usr/local/bin/node_exporter.
GO_BINARY_ENV = "EXPORTERS_BENCH_GO_{kind}"


@dataclass(frozen=True)
class GoBinary:
    column: str  # the generation, or "custom"
    path: str


def go_binaries(kind: str, columns: Sequence[str], custom: Mapping[str, str] | None = None) -> list[GoBinary]:
    """The Go binaries for ``kind``, in column order; ExporterUnavailable when there is none."""
    found = []
    if custom and custom.get(kind):
        found.append(GoBinary("custom", custom[kind]))
    for column in columns:
        path = find_reference_binary(kind, column)
        if path is None:
            log.debug("no %s Go binary for %s", column, kind)
        else:
            found.append(GoBinary(column, path))
    if not found:
        raise ExporterUnavailable(f"no Go {kind} exporter among {', '.join(columns)} (see bench/README.md)")
    return found


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
    """Ours and the Go binaries it is compared with; ``go`` is the reference column."""

    kind: str
    go: Launch
    ours: Launch
    more_go: tuple[Launch, ...] = ()

    @property
    def launches(self) -> list[Launch]:
        """Go's reference first, then ours, then the other Go columns."""
        return [self.go, self.ours, *self.more_go]


def _listen_flag(kind: str) -> str:
    # redis_exporter uses Go's flag package (single dash); the others use kingpin.
    return "-web.listen-address" if kind == "redis" else "--web.listen-address"


def make_pair(
    kind: str, args: Sequence[str] = (), env: dict[str, str] | None = None, ours_extra: Sequence[str] = (),
    go: Sequence[GoBinary] = (),
) -> Pair:
    """Ours and each Go binary (default: every generation present) with the same ``args`` and
    environment, each on a free port.

    ``ours_extra`` goes to ours only, e.g. to switch off collectors an older Go binary lacks.
    """
    flag = _listen_flag(kind)
    binaries = list(go) or go_binaries(kind, DEFAULT_GO)
    ports: set[int] = set()

    def launch(label: str, column: str, program: Sequence[str], extra: Sequence[str] = (),
               optional: bool = False) -> Launch:
        port = free_port()
        while port in ports:
            port = free_port()
        ports.add(port)
        return Launch(label=label, argv=[*program, f"{flag}=127.0.0.1:{port}", *args, *extra], port=port,
                      good=GOOD[kind], env=dict(env or {}), column=column, optional=optional)

    first, *others = binaries
    return Pair(
        kind,
        go=launch("go", first.column, [first.path]),
        ours=launch("ours", "ours", [sys.executable, "-m", f"exporters.{kind}"], ours_extra),
        more_go=tuple(launch(f"go-{b.column}", b.column, [b.path], optional=True) for b in others),
    )


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
