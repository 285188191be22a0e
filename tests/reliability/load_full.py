"""Full load and leak run, by hand (not collected by pytest):

    python -m tests.reliability.load_full [--kinds node,postgres,redis] [--concurrency 50]
        [--duration 60] [--scrapes 10000] [--json results.json]

For each exporter: ``--concurrency`` keep-alive scrapers for ``--duration`` seconds (with the
default ``--web.max-requests`` of 40, so answers above it are the documented 503), then
``--scrapes`` scrapes by 8 scrapers with RSS sampled throughout. Pass criteria: no status
other than 200/503, no connection errors, p99 of successful scrapes under the scrape
timeout, RSS growth after warm-up (the first 20% of the scrapes) under 5 MB. The postgres
and redis exporters scrape the servers named by EXPORTERS_PG_DSN / EXPORTERS_REDIS_URL
(default: the local ones), read-only. Exit status 1 if any criterion fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from tests.reliability.launch import launch
from tests.reliability.loadgen import LoadResult, run_load

RSS_LIMIT = 5 * 2**20
SCRAPE_TIMEOUT = 10.0


def exporter_args(kind: str) -> tuple[list[str], dict[str, str]]:
    if kind == "postgres":
        dsn = os.environ.get("EXPORTERS_PG_DSN", "postgresql://root@127.0.0.1:5432/postgres?sslmode=disable")
        return ["--config.file", os.devnull], {"DATA_SOURCE_NAME": dsn}
    if kind == "redis":
        return ["-redis.addr", os.environ.get("EXPORTERS_REDIS_URL", "redis://127.0.0.1:6379")], {}
    return [], {}


def verdict(kind: str, phase: str, result: LoadResult, leak: bool) -> list[str]:
    problems = []
    if result.errors:
        problems.append(f"{kind} {phase}: connection errors {dict(result.errors)}")
    other = set(result.statuses) - {200, 503}
    if other:
        problems.append(f"{kind} {phase}: unexpected statuses {sorted(other)}")
    if result.percentile(0.99) >= SCRAPE_TIMEOUT:
        problems.append(f"{kind} {phase}: p99 {result.percentile(0.99):.2f}s not under the scrape timeout")
    if leak and result.rss_growth() >= RSS_LIMIT:
        problems.append(f"{kind} {phase}: RSS grew {result.rss_growth() / 2**20:.1f} MB after warm-up")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="node,postgres,redis")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--scrapes", type=int, default=10_000)
    parser.add_argument("--json", dest="json_path", default="")
    args = parser.parse_args(argv)
    report: dict[str, dict[str, object]] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="exporters-load-") as tmp:
        for kind in [k for k in args.kinds.split(",") if k]:
            extra, env = exporter_args(kind)
            # every scraper asks the same thing: without --no-scrape.share they would share
            # collections, and neither the 503 limit nor one collection per scrape would be exercised
            exporter = launch(kind, [*extra, "--no-scrape.share"], Path(tmp), env=env)
            try:
                url = exporter.url + "/metrics"
                burst = run_load(url, exporter.proc.pid, args.concurrency, duration=args.duration,
                                 scrape_timeout=SCRAPE_TIMEOUT)
                leak = run_load(url, exporter.proc.pid, 8, scrapes=args.scrapes, scrape_timeout=SCRAPE_TIMEOUT,
                                rss_every=1.0)
                alive = exporter.proc.poll() is None
            finally:
                exporter.stop()
            report[kind] = {"burst": burst.summary(), "leak": leak.summary(), "alive": alive}
            problems += verdict(kind, "burst", burst, leak=False) + verdict(kind, "leak", leak, leak=True)
            if not alive:
                problems.append(f"{kind}: the exporter died under load")
            print(json.dumps({kind: report[kind]}, indent=1), flush=True)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report, indent=1) + "\n")
    print("\n| exporter | phase | scrapes | per s | 200 | 503 | p50 ms | p99 ms | max ms | RSS start -> end MB "
          "| growth after warm-up MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind, phases in report.items():
        for phase in ("burst", "leak"):
            s = phases[phase]
            assert isinstance(s, dict)
            statuses = s["statuses"]
            assert isinstance(statuses, dict)
            print(f"| {kind} | {phase} | {s['scrapes']} | {s['per_second']} | {statuses.get(200, 0)} | "
                  f"{statuses.get(503, 0)} | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} | "
                  f"{s['rss_start_mb']} -> {s['rss_end_mb']} | {s['rss_growth_after_warmup_mb']} |")
    for problem in problems:
        print("FAIL:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
