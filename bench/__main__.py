"""``python -m bench``: our exporters against the Go ones, side by side on this machine.

Writes bench/out/bench-<time>.json and .md (and latest.json / latest.md). See bench/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import logging
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bench import hostns
from bench.harness import REPO, ExporterUnavailable
from bench.procstat import read_loadavg
from bench.report import render_markdown
from bench.scenarios import EXPORTERS, Options, Scenario, discover
from bench.targets import DEFAULT_GO, GO_BINARY_ENV, GO_ENV, GoBinary, go_binaries
from tests.conftest import GENERATIONS

log = logging.getLogger("bench")

DEFAULT_OUT = Path(__file__).resolve().parent / "out"

T = TypeVar("T")

def _choices(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def convert(text: str) -> list[str]:
        chosen = [p.strip() for p in text.split(",") if p.strip()]
        bad = [c for c in chosen if c not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(bad)} (choose from {', '.join(allowed)})")
        return chosen

    return convert


def _custom_binary(text: str) -> tuple[str, str]:
    kind, sep, path = text.partition("=")
    if not sep or kind not in EXPORTERS or not path:
        raise argparse.ArgumentTypeError(f"expected KIND=PATH with KIND one of {', '.join(EXPORTERS)}")
    return kind, path


def build_parser(scenarios: dict[str, Scenario]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: few scrapes, tiny sizes, only the default scenario unless --scenarios is given")
    p.add_argument("--full", action="store_true",
                   help="the full sizes: 10,000 tables, 1,000,000 keys, 500 links + 200 mounts, 60 s of load")
    p.add_argument("--exporters", type=_choices(EXPORTERS), default=list(EXPORTERS),
                   help="comma-separated subset of node,postgres,redis (default: all)")
    p.add_argument("--scenarios", type=_choices(list(scenarios)), default=None,
                   help=f"comma-separated subset of {','.join(scenarios)} (default: all but "
                        f"{','.join(n for n, s in scenarios.items() if not s.default) or 'none'}; --quick: default)")
    p.add_argument("--go", type=_choices(GENERATIONS), default=_choices(GENERATIONS)(
        os.environ.get(GO_ENV) or ",".join(DEFAULT_GO)),
                   help="the Go binaries to compare with, as columns: generations in order, the first present is "
                        f"the reference of every ratio (default {','.join(DEFAULT_GO)}; env {GO_ENV})")
    p.add_argument("--go-binary", type=_custom_binary, action="append", default=[], metavar="KIND=PATH",
                   help="a Go binary of your own as the reference column for KIND "
                        f"(env {GO_BINARY_ENV.format(kind='NODE')}, ..._POSTGRES, ..._REDIS)")
    p.add_argument("--scrapes", type=int, default=None, help="scrapes of each exporter at default settings (30)")
    p.add_argument("--scale-scrapes", type=int, default=None, help="scrapes of each exporter per workload size (10)")
    seen: dict[str, str] = {}
    for scenario in scenarios.values():
        for name, size in scenario.sizes.items():
            if name in seen:
                raise ValueError(f"--{name}: declared by both {seen[name]} and {scenario.name}")
            seen[name] = scenario.name
            p.add_argument(f"--{name}", type=size.parse, default=None,
                           help=f"{scenario.name}: {size.help} ({size.default}; --full {size.full}; "
                                f"--quick {size.quick})")
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


def options_from_args(args: argparse.Namespace, scenarios: dict[str, Scenario],
                      log_dir: Path) -> tuple[Options, list[str]]:
    sizes = {}
    for scenario in scenarios.values():
        for name, size in scenario.sizes.items():
            given = getattr(args, name.replace("-", "_"))
            text = size.full if args.full else size.quick if args.quick else size.default
            sizes[name] = given if given is not None else size.parse(text)
    custom = {kind: os.environ[GO_BINARY_ENV.format(kind=kind.upper())] for kind in EXPORTERS
              if os.environ.get(GO_BINARY_ENV.format(kind=kind.upper()))}
    custom.update(dict(args.go_binary))
    opts = Options(
        exporters=args.exporters,
        scrapes=args.scrapes if args.scrapes is not None else (5 if args.quick else 30),
        scale_scrapes=args.scale_scrapes if args.scale_scrapes is not None else (3 if args.quick else 10),
        warmup=1 if args.quick else 2,
        pg_dsn=args.pg_dsn,
        queries=args.queries,
        ours_args={kind: getattr(args, f"{kind}_ours_args").split() for kind in EXPORTERS
                   if getattr(args, f"{kind}_ours_args")},
        check_keys=args.check_keys,
        count_keys=args.count_keys,
        redis_server=args.redis_server,
        go=args.go,
        go_custom=custom,
        sizes=sizes,
        log_dir=log_dir,
    )
    chosen = args.scenarios or (["default"] if args.quick else [n for n, s in scenarios.items() if s.default])
    chosen = [n for n in chosen if scenarios[n].exporter in (None, *opts.exporters)]
    return opts, chosen


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def go_version(binary: str) -> str:
    for flag in ("--version", "-version"):
        try:
            done = subprocess.run([binary, flag], capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (done.stdout + done.stderr).strip()
        if done.returncode == 0 and text:
            # "node_exporter, version 1.9.0 (...)"; redis_exporter prints a log line "... Exporter 1.69.0-1 ..."
            version = re.search(r"\b(\d+\.\d+\.\d+)\b", text)
            return version.group(1) if version else text.splitlines()[0][:80]
    return "unknown"


def go_columns(opts: Options) -> dict[str, list[dict[str, str]]]:
    """Per exporter, the Go columns compared with: generation, path, version."""
    out: dict[str, list[dict[str, str]]] = {}
    for kind in opts.exporters:
        try:
            binaries: list[GoBinary] = go_binaries(kind, opts.go, opts.go_custom)
        except ExporterUnavailable as err:
            log.warning("%s", err)
            binaries = []
        out[kind] = [{"column": b.column, "path": b.path, "version": go_version(b.path)} for b in binaries]
    return out


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


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_before": list(read_loadavg()),
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


def compile_exporters() -> None:
    """Ours starts from compiled bytecode, as an installed package does: a checkout run with
    PYTHONDONTWRITEBYTECODE would otherwise compile every module at every start and count it."""
    compileall.compile_dir(str(REPO / "exporters"), quiet=1)


def run(args: argparse.Namespace, scenarios: dict[str, Scenario]) -> dict[str, Any]:
    started = time.time()
    compile_exporters()
    with tempfile.TemporaryDirectory(prefix="exporters-bench-logs-") as tmp:
        opts, chosen = options_from_args(args, scenarios, Path(tmp))
        report: dict[str, Any] = {
            "started": datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(timespec="seconds"),
            "machine": {**machine(), "servers": server_versions(opts.pg_dsn, opts.redis_server),
                        "go": go_columns(opts)},
            "options": {
                "scenarios": chosen, "exporters": list(opts.exporters), "scrapes": opts.scrapes,
                "scale_scrapes": opts.scale_scrapes, "go": list(opts.go), "go_custom": opts.go_custom,
                "sizes": {name: value for name, value in opts.sizes.items()
                          if any(name in scenarios[n].sizes for n in chosen)},
                "quick": args.quick, "full": args.full,
                "ours_args": {k: " ".join(v) for k, v in opts.ours_args.items()},
            },
            "scenarios": {n: {"title": scenarios[n].title, "layout": scenarios[n].layout} for n in chosen},
            "results": [],
        }
        for name in chosen:
            for row in scenarios[name].run(opts):
                # the load average when the row was measured: a busy machine shows here
                row["loadavg"] = list(read_loadavg())
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
    p.add_argument("--go", action="append", default=[], help="COLUMN=PATH, in column order")
    p.add_argument("--ours-arg", action="append", default=[])
    args = p.parse_args(argv)
    go = [GoBinary(*item.split("=", 1)) for item in args.go]
    try:
        result = hostns.worker(args.links, args.mounts, args.base, args.scrapes, args.warmup, args.log_dir,
                               go, args.ours_arg)
    except ExporterUnavailable as err:
        result = {"skipped": str(err)}
    args.out.write_text(json.dumps(clean(result)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    if argv[:1] == ["host-worker"]:
        return host_worker(argv[1:])
    scenarios = discover()
    parser = build_parser(scenarios)
    args = parser.parse_args(argv)
    if args.verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    if args.quick and args.full:
        parser.error("--quick and --full are exclusive")
    report = run(args, scenarios)
    json_path, md_path = write_report(report, args.out)
    sys.stdout.write(render_markdown(report))
    log.info("wrote %s and %s", json_path, md_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
