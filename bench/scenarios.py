"""The scenarios: default settings side by side, then workloads of growing size."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import hostns, services
from bench.harness import (
    ConcurrencyResult,
    ExporterUnavailable,
    compare,
    concurrent_load,
    ratios,
)
from bench.targets import Pair, make_pair, postgres_args, postgres_env, redis_args

log = logging.getLogger("bench")

EXPORTERS = ("node", "postgres", "redis")
SCENARIOS = ("default", "pg-tables", "redis-keys", "host", "concurrency")

Row = dict[str, Any]


@dataclass
class Options:
    exporters: Sequence[str] = EXPORTERS
    scrapes: int = 30
    scale_scrapes: int = 10
    warmup: int = 2
    pg_dsn: str = "postgresql://root@127.0.0.1:5432/postgres?sslmode=disable"
    queries: str = "shipped"
    # Extra arguments for our exporter only, per kind (e.g. to switch off what the older Go binary lacks).
    ours_args: dict[str, list[str]] = field(default_factory=dict)
    tables: Sequence[int] = (100, 1000, 3000)
    keys: Sequence[int] = (10_000, 100_000, 300_000)
    check_keys: str = "key:1??"
    count_keys: str = "key:*"
    redis_server: str = "redis-server"
    hosts: Sequence[tuple[int, int]] = ((10, 5), (50, 20), (100, 40))
    workers: Sequence[int] = (1, 4, 10)
    duration: float = 3.0
    start_timeout: float = 30.0
    scrape_timeout: float = 10.0
    log_dir: Path = field(default_factory=lambda: Path("."))


def _skipped(scenario: str, exporter: str, size: dict[str, Any], reason: str) -> Row:
    log.warning("%s/%s %s skipped: %s", scenario, exporter, size, reason)
    return {"scenario": scenario, "exporter": exporter, "size": size, "skipped": reason}


def _compare_row(scenario: str, pair: Pair, size: dict[str, Any], opts: Options, scrapes: int,
                 extra: dict[str, Any] | None = None) -> Row:
    log.info("%s/%s %s: %d scrapes each", scenario, pair.kind, size, scrapes)
    go, ours = compare(pair.go, pair.ours, opts.log_dir, scrapes, opts.warmup,
                       opts.start_timeout, opts.scrape_timeout)
    row: Row = {
        "scenario": scenario, "exporter": pair.kind, "size": size,
        "go": go.as_dict(), "ours": ours.as_dict(), "ratio": ratios(go, ours),
    }
    if extra:
        row["extra"] = extra
    return row


def _guarded(scenario: str, exporter: str, size: dict[str, Any], run: Callable[[], Row]) -> Row:
    try:
        return run()
    except ExporterUnavailable as err:
        return _skipped(scenario, exporter, size, str(err))


@contextmanager
def _environment(
    exporter: str, opts: Options, keys: int = 0, check_keys: str = "", count_keys: str = "",
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Arguments and environment for an exporter; redis gets a private server with ``keys`` keys."""
    if exporter == "postgres":
        services.check_postgres(opts.pg_dsn)
        yield [], postgres_env(opts.pg_dsn)
    elif exporter == "redis":
        with services.private_redis(keys, opts.redis_server) as addr:
            yield redis_args(addr, check_keys, count_keys), {}
    else:
        yield [], {}


def default_scenario(opts: Options) -> Iterator[Row]:
    for exporter in opts.exporters:
        size = {"name": "default", "value": 0}

        def run(exporter: str = exporter, size: dict[str, Any] = size) -> Row:
            with _environment(exporter, opts) as (args, env):
                pair = make_pair(exporter, args, env, opts.ours_args.get(exporter, ()))
                return _compare_row("default", pair, size, opts, opts.scrapes)

        yield _guarded("default", exporter, size, run)


def pg_tables_scenario(opts: Options) -> Iterator[Row]:
    queries = services.queries_file(opts.queries)
    for tables in opts.tables:
        size = {"name": "tables", "value": tables}

        def run(tables: int = tables, size: dict[str, Any] = size) -> Row:
            with services.scratch_database(opts.pg_dsn, tables) as dsn:
                pair = make_pair("postgres", postgres_args(queries), postgres_env(dsn),
                                 opts.ours_args.get("postgres", ()))
                extra = {"queries_file": Path(queries).name if queries else None,
                         "ours_extra_args": " ".join(opts.ours_args.get("postgres", ())) or None}
                return _compare_row("pg-tables", pair, size, opts, opts.scale_scrapes, extra)

        yield _guarded("pg-tables", "postgres", size, run)


def redis_keys_scenario(opts: Options) -> Iterator[Row]:
    for keys in opts.keys:
        size = {"name": "keys", "value": keys}

        def run(keys: int = keys, size: dict[str, Any] = size) -> Row:
            with _environment("redis", opts, keys, opts.check_keys, opts.count_keys) as (args, env):
                extra = {"check_keys": opts.check_keys, "count_keys": opts.count_keys,
                         "ours_extra_args": " ".join(opts.ours_args.get("redis", ())) or None}
                pair = make_pair("redis", args, env, opts.ours_args.get("redis", ()))
                for launch in (pair.go, pair.ours):
                    launch.watch = ("redis_keys_count",)
                return _compare_row("redis-keys", pair, size, opts, opts.scale_scrapes, extra)

        yield _guarded("redis-keys", "redis", size, run)


def host_scenario(opts: Options) -> Iterator[Row]:
    for links, mounts in opts.hosts:
        size = {"name": "links+mounts", "value": f"{links}+{mounts}", "links": links, "mounts": mounts}
        log.info("host %d links %d mounts: %d scrapes each (in namespaces)", links, mounts, opts.scale_scrapes)
        try:
            result = hostns.run_in_namespace(links, mounts, opts.scale_scrapes, opts.warmup, opts.log_dir)
        except ExporterUnavailable as err:
            yield _skipped("host", "node", size, str(err))
            continue
        if "skipped" in result:
            yield _skipped("host", "node", size, result["skipped"])
            continue
        yield {
            "scenario": "host", "exporter": "node", "size": size,
            "go": result["go"], "ours": result["ours"], "ratio": result["ratio"],
            "extra": {k: result[k] for k in ("link_type", "links_visible", "mounts_visible")},
        }


CONCURRENCY_FIGURES = ("throughput_per_second", "p50_seconds", "p99_seconds", "cpu_seconds_per_scrape",
                       "peak_rss_bytes")


def _concurrency_ratio(go: ConcurrencyResult, ours: ConcurrencyResult) -> dict[str, float]:
    out = {}
    for name in CONCURRENCY_FIGURES:
        a, b = float(getattr(ours, name)), float(getattr(go, name))
        out[name] = a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan
    return out


def concurrency_scenario(opts: Options) -> Iterator[Row]:
    for exporter in opts.exporters:
        for workers in opts.workers:
            size = {"name": "workers", "value": workers}

            def run(exporter: str = exporter, workers: int = workers, size: dict[str, Any] = size) -> Row:
                with _environment(exporter, opts) as (args, env):
                    pair = make_pair(exporter, args, env, opts.ours_args.get(exporter, ()))
                    log.info("concurrency/%s %d workers for %gs each", exporter, workers, opts.duration)
                    go = concurrent_load(pair.go, opts.log_dir, workers, opts.duration,
                                         opts.start_timeout, opts.scrape_timeout)
                    ours = concurrent_load(pair.ours, opts.log_dir, workers, opts.duration,
                                           opts.start_timeout, opts.scrape_timeout)
                return {
                    "scenario": "concurrency", "exporter": exporter, "size": size,
                    "go": go.as_dict(), "ours": ours.as_dict(), "ratio": _concurrency_ratio(go, ours),
                }

            yield _guarded("concurrency", exporter, size, run)


RUNNERS: dict[str, Callable[[Options], Iterator[Row]]] = {
    "default": default_scenario,
    "pg-tables": pg_tables_scenario,
    "redis-keys": redis_keys_scenario,
    "host": host_scenario,
    "concurrency": concurrency_scenario,
}

# Which exporter a scale scenario needs; it is left out when that exporter is not selected.
SCENARIO_EXPORTER = {"pg-tables": "postgres", "redis-keys": "redis", "host": "node"}
