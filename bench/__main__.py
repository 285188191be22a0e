"""``python -m bench``: our exporters against the Go ones, side by side on this machine.

Writes bench/out/bench-<time>.json and .md (and latest.json / latest.md). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bench import hostns
from bench.harness import ExporterUnavailable
from bench.procstat import read_loadavg
from bench.report import render_markdown
from bench.scenarios import EXPORTERS, RUNNERS, SCENARIO_EXPORTER, SCENARIOS, Options
from bench.targets import GO_BINARIES

log = logging.getLogger("bench")

DEFAULT_OUT = Path(__file__).resolve().parent / "out"

T = TypeVar("T")

# Workload sizes: (default, --full, --quick).
SIZES: dict[str, tuple[str, str, str]] = {
    "tables": ("100,1000,3000", "1000,3000,10000", "10,50,100"),
    "keys": ("10000,100000,300000", "10000,100000,1000000", "1000,5000,10000"),
    "hosts": ("10+5,50+20,100+40", "100+40,250+100,500+200", "2+1,5+2,10+4"),
    "workers": ("1,4,10", "1,4,10", "1,2,4"),
    "duration": ("3", "60", "1"),
}


def _list(parse: Callable[[str], T]) -> Callable[[str], list[T]]:
    def convert(text: str) -> list[T]:
        try:
            return [parse(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"bad list {text!r}: {err}") from None

    return convert


def _host_size(text: str) -> tuple[int, int]:
    links, sep, mounts = text.partition("+")
    if not sep:
        raise ValueError("expected LINKS+MOUNTS")
    return int(links), int(mounts)


def _choices(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def convert(text: str) -> list[str]:
        chosen = [p.strip() for p in text.split(",") if p.strip()]
        bad = [c for c in chosen if c not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(bad)} (choose from {', '.join(allowed)})")
        return chosen

    return convert


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: few scrapes, tiny sizes, only the default scenario unless --scenarios is given")
    p.add_argument("--full", action="store_true",
                   help="the full sizes: 10,000 tables, 1,000,000 keys, 500 links + 200 mounts, 60 s of load")
    p.add_argument("--exporters", type=_choices(EXPORTERS), default=list(EXPORTERS),
                   help="comma-separated subset of node,postgres,redis (default: all)")
    p.add_argument("--scenarios", type=_choices(SCENARIOS), default=None,
                   help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all; --quick: default)")
    p.add_argument("--scrapes", type=int, default=None, help="scrapes of each exporter at default settings (30)")
    p.add_argument("--scale-scrapes", type=int, default=None, help="scrapes of each exporter per workload size (10)")
    p.add_argument("--tables", type=_list(int), default=None, help=f"table counts ({SIZES['tables'][0]})")
    p.add_argument("--keys", type=_list(int), default=None, help=f"key counts ({SIZES['keys'][0]})")
    p.add_argument("--hosts", type=_list(_host_size), default=None,
                   help=f"LINKS+MOUNTS sizes ({SIZES['hosts'][0]})")
    p.add_argument("--workers", type=_list(int), default=None, help=f"concurrent scrapers ({SIZES['workers'][0]})")
    p.add_argument("--duration", type=float, default=None,
                   help=f"seconds of concurrent load per exporter and size ({SIZES['duration'][0]})")
    p.add_argument("--pg-dsn", default=os.environ.get(
        "EXPORTERS_PG_DSN", "postgresql://root@127.0.0.1:5432/postgres?sslmode=disable"),
        help="PostgreSQL server to scrape and to create the scratch databases on (env EXPORTERS_PG_DSN)")
    p.add_argument("--queries", default="shipped",
                   help="queries file for the tables scenario: shipped (queries/, else the benchmark's own), "
                        "none, or a path")
    for kind in EXPORTERS:
        flag = "pg" if kind == "postgres" else kind
        p.add_argument(f"--{flag}-ours-args", dest=f"{kind}_ours_args", default="",
                       help=f"extra arguments for our {kind} exporter only (space-separated)")
    p.add_argument("--redis-server", default="redis-server",
                   help="redis-server binary for the private Redis servers (default: the first on PATH)")
    p.add_argument("--check-keys", default="key:1??", help="-check-keys pattern for the keys scenario")
    p.add_argument("--count-keys", default="key:*", help="-count-keys pattern for the keys scenario")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for the JSON and Markdown reports")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def options_from_args(args: argparse.Namespace, log_dir: Path) -> tuple[Options, list[str]]:
    column = 1 if args.full else 2 if args.quick else 0

    def size(name: str, given: Any, parse: Callable[[str], Any]) -> Any:
        return given if given is not None else parse(SIZES[name][column])

    opts = Options(
        exporters=args.exporters,
        scrapes=args.scrapes if args.scrapes is not None else (5 if args.quick else 30),
        scale_scrapes=args.scale_scrapes if args.scale_scrapes is not None else (3 if args.quick else 10),
        warmup=1 if args.quick else 2,
        pg_dsn=args.pg_dsn,
        queries=args.queries,
        ours_args={kind: getattr(args, f"{kind}_ours_args").split() for kind in EXPORTERS
                   if getattr(args, f"{kind}_ours_args")},
        tables=size("tables", args.tables, _list(int)),
        keys=size("keys", args.keys, _list(int)),
        check_keys=args.check_keys,
        count_keys=args.count_keys,
        redis_server=args.redis_server,
        hosts=size("hosts", args.hosts, _list(_host_size)),
        workers=size("workers", args.workers, _list(int)),
        duration=size("duration", args.duration, float),
        log_dir=log_dir,
    )
    scenarios = args.scenarios or (["default"] if args.quick else list(SCENARIOS))
    scenarios = [s for s in scenarios if SCENARIO_EXPORTER.get(s, "") in ("", *opts.exporters)]
    return opts, scenarios


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def go_version(kind: str) -> str:
    binary = shutil.which(GO_BINARIES[kind])
    if binary is None:
        return "not installed"
    for flag in ("--version", "-version"):
        try:
            done = subprocess.run([binary, flag], capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (done.stdout + done.stderr).strip()
        if done.returncode == 0 and text:
            return text.splitlines()[0][:80]
    return "unknown"


def server_versions(pg_dsn: str, redis_server: str) -> dict[str, str]:
    """The PostgreSQL server scraped and the redis-server binary started, for the record."""
    out: dict[str, str] = {}
    try:
        import psycopg

        with psycopg.connect(pg_dsn, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            out["postgresql"] = str(row[0]) if row else "unknown"
    except Exception as err:  # noqa: BLE001 - only a note in the report
        out["postgresql"] = f"unavailable ({type(err).__name__})"
    binary = shutil.which(redis_server)
    if binary:
        try:
            done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5)
            out["redis-server"] = done.stdout.strip().split(" sha=")[0]
        except (OSError, subprocess.TimeoutExpired):
            out["redis-server"] = "unknown"
    else:
        out["redis-server"] = "not installed"
    return out


def machine(exporters: Sequence[str]) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_before": list(read_loadavg()),
        "go_versions": {kind: go_version(kind) for kind in exporters},
    }


def clean(value: Any) -> Any:
    """NaN becomes null so that the JSON is strict."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="exporters-bench-logs-") as tmp:
        opts, scenarios = options_from_args(args, Path(tmp))
        report: dict[str, Any] = {
            "started": datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(timespec="seconds"),
            "machine": {**machine(opts.exporters), "servers": server_versions(opts.pg_dsn, opts.redis_server)},
            "options": {
                "scenarios": scenarios, "exporters": list(opts.exporters), "scrapes": opts.scrapes,
                "scale_scrapes": opts.scale_scrapes, "tables": list(opts.tables), "keys": list(opts.keys),
                "hosts": [f"{a}+{b}" for a, b in opts.hosts], "workers": list(opts.workers),
                "duration": opts.duration, "quick": args.quick, "full": args.full,
                "ours_args": {k: " ".join(v) for k, v in opts.ours_args.items()},
            },
            "results": [],
        }
        for scenario in scenarios:
            for row in RUNNERS[scenario](opts):
                report["results"].append(row)
        report["machine"]["loadavg_after"] = list(read_loadavg())
        report["elapsed_seconds"] = time.time() - started
    return clean(report)  # type: ignore[no-any-return]


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stamp = report["started"].replace(":", "").replace("-", "").replace("+0000", "Z")
    json_path = out / f"bench-{stamp}.json"
    md_path = out / f"bench-{stamp}.md"
    json_text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    md_text = render_markdown(report)
    json_path.write_text(json_text)
    md_path.write_text(md_text)
    (out / "latest.json").write_text(json_text)
    (out / "latest.md").write_text(md_text)
    return json_path, md_path


def host_worker(argv: Sequence[str]) -> int:
    """Runs inside ``unshare -n -m``: see bench/hostns.py."""
    p = argparse.ArgumentParser(prog="python -m bench host-worker")
    p.add_argument("--links", type=int, required=True)
    p.add_argument("--mounts", type=int, required=True)
    p.add_argument("--base", type=Path, required=True)
    p.add_argument("--scrapes", type=int, required=True)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--log-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        result = hostns.worker(args.links, args.mounts, args.base, args.scrapes, args.warmup, args.log_dir)
    except ExporterUnavailable as err:
        result = {"skipped": str(err)}
    args.out.write_text(json.dumps(clean(result)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    if argv[:1] == ["host-worker"]:
        return host_worker(argv[1:])
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    if args.quick and args.full:
        build_parser().error("--quick and --full are exclusive")
    report = run(args)
    json_path, md_path = write_report(report, args.out)
    sys.stdout.write(render_markdown(report))
    log.info("wrote %s and %s", json_path, md_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
