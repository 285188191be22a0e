"""``python -m bench.summary RUN...``: several runs' reports as one table, medians and spread.

Each RUN is a report written by ``python -m bench`` (a ``bench-*.json`` file, or an ``--out``
directory, whose ``latest.json`` is read). For every comparison row present in the runs
(scenario, exporter, size) and every figure both sides have, the table gives ours and the
reference Go column as medians over the runs, the ratio ours / Go as its median with the
lowest and highest run's ratio beside it, and the 1-minute load average the rows were
measured at. Ratios of the second Go column (``more_ratio``) are summarised the same way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.report import fmt

Row = dict[str, Any]

# figure -> (label, unit kind of bench.report.fmt); the order is the table's.
FIGURES: dict[str, tuple[str, str]] = {
    "throughput_per_second": ("scrapes/s", "n"),
    "p50_seconds": ("p50", "s"),
    "p99_seconds": ("p99", "s"),
    "cpu_seconds_per_scrape": ("CPU per scrape", "s"),
    "steady_rss_bytes": ("steady RSS", "B"),
    "peak_rss_bytes": ("peak RSS", "B"),
    "start_seconds": ("start to first good scrape", "s"),
    "first_good_ms": ("start to first good scrape (ms)", "n"),
    "steady_rss_mib": ("steady RSS (MiB)", "n"),
    "flood_p50_ms": ("p50 during the flood (ms)", "n"),
    "flood_p99_ms": ("p99 during the flood (ms)", "n"),
    "after_rss_delta_mib": ("RSS after the flood - before (MiB)", "n"),
    "after_threads_delta": ("threads after the flood - before", "n"),
    "burst_p50_ms": ("burst p50 (ms)", "n"),
    "burst_p99_ms": ("burst p99 (ms)", "n"),
    "burst_listen_overflows": ("burst listen overflows", "n"),
    "idle_wakeups_per_s": ("idle wake-ups/s", "n"),
}


def load(path: Path) -> dict[str, Any]:
    """One run's report: the JSON file itself, or ``latest.json`` of an output directory."""
    if path.is_dir():
        path = path / "latest.json"
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def row_key(row: Row) -> tuple[str, str, str]:
    size = row.get("size") or {}
    extra = ", ".join(f"{k}={v}" for k, v in sorted(size.items()) if k not in ("name", "value"))
    label = f"{size.get('name')}={size.get('value')}" + (f" ({extra})" if extra else "")
    return row.get("scenario", "?"), row.get("exporter", "?"), label


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _spread(values: Sequence[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    middle = statistics.median(present)
    if len(present) == 1:
        return f"{middle:.2f}"
    return f"{middle:.2f} ({min(present):.2f}-{max(present):.2f})"


def summarise(reports: Sequence[dict[str, Any]]) -> list[str]:
    """The Markdown: one table per scenario and exporter, one line per size and figure."""
    grouped: dict[tuple[str, str, str], list[Row]] = {}
    for report in reports:
        for row in report.get("results", []):
            if "skipped" in row or "ratio" not in row:
                continue
            grouped.setdefault(row_key(row), []).append(row)
    second = sorted({c for rows in grouped.values() for r in rows for c in r.get("more_ratio", {})})
    lines = [f"{len(reports)} runs; medians over the runs, ratios as median (lowest-highest run).", ""]
    current: tuple[str, str] | None = None
    for (scenario, exporter, size), rows in sorted(grouped.items()):
        if current != (scenario, exporter):
            current = (scenario, exporter)
            columns = next((r["go"].get("column", "go") for r in rows if r.get("go")), "go")
            header = ["size", "load (1 min)", "figure", f"Go ({columns})", "ours", "ours/Go"]
            header += [f"ours/Go ({c})" for c in second]
            lines += ["", f"### {scenario}: {exporter}", "",
                      "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        loads = [r["loadavg"][0] for r in rows if r.get("loadavg")]
        first = [size, f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"]
        for figure, (label, kind) in FIGURES.items():
            ratios = [_number(r["ratio"].get(figure)) for r in rows]
            if all(v is None for v in ratios):
                continue
            go = _median(_number(r["go"].get(figure)) for r in rows)
            ours = _median(_number(r["ours"].get(figure)) for r in rows)
            cells = [*first, label, fmt(go, kind), fmt(ours, kind), _spread(ratios)]
            first = ["", ""]
            cells += [_spread([_number(r.get("more_ratio", {}).get(c, {}).get(figure)) for r in rows])
                      for c in second]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="bench-*.json files or --out directories")
    args = parser.parse_args(argv)
    print("\n".join(summarise([load(p) for p in args.runs])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
