"""PostgreSQL /probe: one exporter, D databases probed in turn by W clients, optionally
while B other sessions keep the server busy (the way fleets run multi-target exporters)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from bench import services
from bench.client import Scraper
from bench.harness import ConcurrencyResult, ExporterUnavailable, Launch, RunningExporter, percentile
from bench.scenarios import Options, Row, Scenario, Size, guarded, ints, load_ratios, seconds

log = logging.getLogger("bench")
FIGURES = ("throughput_per_second", "p50_seconds", "p99_seconds", "cpu_seconds_per_scrape", "peak_rss_bytes")
# our allowlist, read from the environment so the Go binary (which has no such flag) gets the same argv
ALLOW_ENV = "PG_EXPORTER_PROBE_ALLOWED_TARGETS"


@contextlib.contextmanager
def databases(dsn: str, count: int) -> Iterator[list[str]]:
    """``count`` small databases (a few tables each), dropped after."""
    import psycopg

    services.check_postgres(dsn)
    stamp = f"{int(time.time())}_{id(object()) % 10000}"
    names = [f"exporters_probe_{stamp}_{i}" for i in range(count)]
    with psycopg.connect(dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        targets = []
        for name in names:
            target = services.with_database(dsn, name)
            with psycopg.connect(target, autocommit=True) as conn:
                conn.execute("DO $$ BEGIN FOR i IN 0..19 LOOP EXECUTE format("
                             "'CREATE TABLE t%s (id int PRIMARY KEY, v text)', i); END LOOP; END $$")
            targets.append(target)
        yield targets
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def busy_server(dsn: str, sessions: int) -> Iterator[None]:
    """``sessions`` other clients running CPU-bound queries back to back."""
    import psycopg

    stop = threading.Event()

    def work() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("SELECT count(*) FROM generate_series(1, 300000)")

    threads = [threading.Thread(target=work, daemon=True) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def probe_load(launch: Launch, opts: Options, paths: list[str], workers: int, duration: float) -> ConcurrencyResult:
    """``workers`` clients probing ``paths`` round robin, back to back, for ``duration`` seconds."""
    good = dataclasses.replace(launch, good=lambda body: b"\npg_up 1" in b"\n" + body)
    proc = RunningExporter(good, opts.log_dir, opts.scrape_timeout)
    try:
        proc.scraper.path = paths[0]
        proc.wait_first_good(opts.start_timeout)
        latencies: list[list[float]] = [[] for _ in range(workers)]
        errors = [0] * workers
        first_error = [""] * workers
        stop_at = time.perf_counter() + duration

        def work(index: int) -> None:
            scraper = Scraper("127.0.0.1", launch.port, timeout=opts.scrape_timeout)
            turn = index
            try:
                while time.perf_counter() < stop_at:
                    scraper.path = paths[turn % len(paths)]
                    turn += workers
                    result = scraper.scrape(keep_body=True, decode=True)
                    latencies[index].append(result.seconds)
                    if not result.ok or b"\npg_up 1" not in b"\n" + result.body:
                        errors[index] += 1
                        first_error[index] = first_error[index] or result.error or "pg_up not 1"
            finally:
                scraper.close()

        before = proc.sample()
        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(duration + opts.scrape_timeout + 5)
        elapsed = time.perf_counter() - started
        after = proc.sample()
        flat = [t for per in latencies for t in per]
        return ConcurrencyResult(
            label=launch.label, column=launch.column, workers=workers, duration_seconds=elapsed,
            scrapes=len(flat), errors=sum(errors),
            throughput_per_second=len(flat) / elapsed if elapsed > 0 else math.nan,
            p50_seconds=percentile(flat, 50), p99_seconds=percentile(flat, 99),
            cpu_seconds_per_scrape=(after.cpu_seconds - before.cpu_seconds) / len(flat) if flat else math.nan,
            peak_rss_bytes=after.hwm_bytes, first_error=next((e for e in first_error if e), ""),
        )
    finally:
        proc.stop()


def run(opts: Options) -> Iterator[Row]:
    duration = opts.size("probe_duration")
    for busy in opts.size("probe_busy"):
        for workers in opts.size("probe_clients"):
            size: dict[str, Any] = {"name": "workers", "value": workers, "busy_sessions": busy,
                                    "databases": opts.size("probe_databases")[0]}

            def one(workers: int = workers, busy: int = busy, size: dict[str, Any] = size) -> Row:
                with databases(opts.pg_dsn, size["databases"]) as targets, busy_server(opts.pg_dsn, busy):
                    paths = [f"/probe?target={quote(t, safe='')}" for t in targets]
                    env = {"DATA_SOURCE_NAME": "", ALLOW_ENV: "127.0.0.1:5432,localhost:5432"}
                    pair = opts.pair("postgres", [], env)
                    results: list[ConcurrencyResult | str] = []
                    for launch in pair.launches:
                        log.info("pg-probe/%s %d clients, %d busy sessions", launch.label, workers, busy)
                        try:
                            results.append(probe_load(launch, opts, paths, workers, duration))
                        except ExporterUnavailable as err:
                            if not launch.optional:
                                raise
                            results.append(f"did not start: {err}")
                go, ours, *more = results
                assert isinstance(go, ConcurrencyResult) and isinstance(ours, ConcurrencyResult)
                return {
                    "scenario": "pg-probe", "exporter": "postgres", "size": size,
                    "go": go.as_dict(), "ours": ours.as_dict(), "ratio": load_ratios(go, ours, FIGURES),
                    "more_go": {launch.column: r.as_dict() if isinstance(r, ConcurrencyResult)
                                else {"column": launch.column, "first_error": r}
                                for launch, r in zip(pair.more_go, more, strict=True)},
                    "more_ratio": {launch.column: load_ratios(r, ours, FIGURES)
                                   for launch, r in zip(pair.more_go, more, strict=True)
                                   if isinstance(r, ConcurrencyResult)},
                }

            yield guarded("pg-probe", "postgres", size, one)


SCENARIO = Scenario(
    name="pg-probe", title="PostgreSQL /probe: databases behind one exporter", run=run, exporter="postgres",
    layout="load", order=45,
    sizes={"probe_clients": Size("1,10", "1,10", "1,2", ints, "concurrent probing clients"),
           "probe_databases": Size("20", "20", "4", ints, "databases probed in turn"),
           "probe_busy": Size("0,2", "0,2", "0", ints, "other sessions keeping the server busy"),
           "probe_duration": Size("5", "60", "2", seconds,
                                  "seconds of load per exporter, client count and busy level")},
)
