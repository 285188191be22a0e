"""The report: one JSON document, and a Markdown rendering of it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

Row = dict[str, Any]

# (field, label, kind) for the side-by-side table of one comparison.
SIDE_FIGURES: list[tuple[str, str, str]] = [
    ("p50_seconds", "p50 scrape latency", "s"),
    ("p99_seconds", "p99 scrape latency", "s"),
    ("max_seconds", "max scrape latency", "s"),
    ("cpu_seconds_per_scrape", "CPU per scrape", "s"),
    ("peak_rss_bytes", "peak RSS (VmHWM)", "B"),
    ("steady_rss_bytes", "steady RSS (VmRSS, median)", "B"),
    ("wire_bytes", "response bytes (on the wire)", "B"),
    ("body_bytes", "response bytes (decoded)", "B"),
    ("series", "samples in the response", "n"),
    ("start_seconds", "start to first good scrape", "s"),
    ("errors", "failed scrapes", "n"),
    ("over_deadline", "scrapes over the deadline", "n"),
]

# Figures whose growth with the workload is reported for the scale scenarios.
GROWTH_FIGURES: list[tuple[str, str, str]] = [
    ("p50_seconds", "p50", "s"),
    ("p99_seconds", "p99", "s"),
    ("cpu_seconds_per_scrape", "CPU/scrape", "s"),
    ("peak_rss_bytes", "peak RSS", "B"),
    ("wire_bytes", "bytes", "B"),
    ("series", "samples", "n"),
]

CONCURRENCY_FIGURES: list[tuple[str, str, str]] = [
    ("throughput_per_second", "scrapes/s", "n"),
    ("p50_seconds", "p50", "s"),
    ("p99_seconds", "p99", "s"),
    ("cpu_seconds_per_scrape", "CPU/scrape", "s"),
    ("peak_rss_bytes", "peak RSS", "B"),
]


def fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if kind == "s":
        v = float(value)
        return f"{v * 1000:.3g} ms" if v < 1 else f"{v:.3g} s"
    if kind == "B":
        v = float(value)
        if v >= 1024 * 1024:
            return f"{v / (1024 * 1024):.1f} MiB"
        if v >= 1024:
            return f"{v / 1024:.1f} KiB"
        return f"{int(v)} B"
    if kind == "x":
        return f"{float(value):.2f}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def ratio(ours: Any, go: Any) -> str:
    try:
        a, b = float(ours), float(go)
    except (TypeError, ValueError):
        return "-"
    if b == 0 or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _skips(rows: Sequence[Row]) -> list[str]:
    return [f"- skipped {r['exporter']} {r['size'].get('name')}={r['size'].get('value')}: {r['skipped']}"
            for r in rows if "skipped" in r]


def _go(side: dict[str, Any]) -> str:
    """The column name of a Go side: "Go (trixie)"."""
    return f"Go ({side.get('column') or '?'})"


def _load(row: Row) -> str:
    return fmt(row["loadavg"][0], "n") if row.get("loadavg") else "-"


def _more_go(rows: Sequence[Row], figures: Sequence[tuple[str, str, str]]) -> list[str]:
    """Ours against the other Go columns, as ratios, one line per row."""
    out = []
    for r in rows:
        for column, side in (r.get("more_go") or {}).items():
            where = f"{r['exporter']} {r['size']['name']}={r['size']['value']}"
            if not side.get("scrapes") and side.get("first_error"):
                out.append(f"- against Go ({column}), {where}: {side['first_error'][:200]}")
                continue
            parts = [f"{label} {ratio(r['ours'][name], side[name])}" for name, label, _kind in figures
                     if name in side]
            out.append(f"- ours/Go ({column}), {where}: " + ", ".join(parts))
    return [*out, ""] if out else []


def _floor_lines(floor: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """The psycopg floor (bench/floor.py) and ours against it."""
    if "error" in floor:
        return [f"Floor (a process that only imports psycopg and connects): not measured ({floor['error']})."]
    above = (ours["steady_rss_bytes"] - floor["rss_bytes"]) / (1024 * 1024)
    return [
        f"Floor, a Python process that only imports psycopg and connects to the same server (median of "
        f"{floor['runs']}): RSS {fmt(floor['rss_bytes'], 'B')}, psycopg import "
        f"{fmt(floor['import_seconds'], 's')} + connect {fmt(floor['connect_seconds'], 's')}. "
        f"Ours' steady RSS is {above:.1f} MiB above it; of ours' start to first good scrape "
        f"({fmt(ours['start_seconds'], 's')}), the floor's process start to connected is "
        f"{fmt(floor['start_seconds'], 's')}.",
    ]


def render_side_by_side(title: str, rows: Sequence[Row]) -> list[str]:
    out = [f"## {title}", ""]
    for row in rows:
        if "skipped" in row:
            continue
        go, ours = row["go"], row["ours"]
        more = [(column, side) for column, side in (row.get("more_go") or {}).items() if side.get("scrapes")]
        out += [f"### {row['exporter']}", ""]
        table = []
        for name, label, kind in SIDE_FIGURES:
            cells = [label, fmt(go[name], kind), fmt(ours[name], kind), ratio(ours[name], go[name])]
            for _column, side in more:
                cells += [fmt(side[name], kind), ratio(ours[name], side[name])]
            table.append(cells)
        table.append(["content type", go["content_type"] or "-", ours["content_type"] or "-", "",
                      *(c for _column, side in more for c in (side["content_type"] or "-", ""))])
        header = ["figure", _go(go), "ours", "ours/Go"]
        for column, _side in more:
            header += [f"Go ({column})", f"ours/Go ({column})"]
        out += _table(header, table)
        out += ["", f"Load average (1 min) after this comparison: {_load(row)}.", ""]
        floor = (row.get("extra") or {}).get("psycopg_floor")
        if floor:
            out += [*_floor_lines(floor, ours), ""]
        for column, side in (row.get("more_go") or {}).items():
            if not side.get("scrapes"):
                out += [f"Go ({column}) left out: {side.get('first_error', '')[:200]}", ""]
    out += _skips(rows)
    return out


def _growth(rows: Sequence[Row], figures: Sequence[tuple[str, str, str]]) -> list[str]:
    done = [r for r in rows if "skipped" not in r]
    if len(done) < 2:
        return []
    first, last = done[0], done[-1]
    parts = []
    for name, label, _kind in figures:
        parts.append(f"{label} Go x{ratio(last['go'][name], first['go'][name])}, "
                     f"ours x{ratio(last['ours'][name], first['ours'][name])}")
    return [f"Growth from {first['size']['value']} to {last['size']['value']} {first['size']['name']}: "
            + "; ".join(parts) + ".", ""]


def _watched(side: dict[str, Any]) -> str:
    watched = side.get("watched") or {}
    return ", ".join(f"`{k} {v}`" for k, v in watched.items()) or "nothing"


def render_scale(title: str, rows: Sequence[Row]) -> list[str]:
    out = [f"## {title}", ""]
    done = [r for r in rows if "skipped" not in r]
    if done:
        extras = [r.get("extra") or {} for r in done]
        keys = list(extras[0])
        varying = [k for k in keys if any(e.get(k) != extras[0].get(k) for e in extras)]
        constant = {k: extras[0][k] for k in keys if k not in varying}
        if constant:
            out += ["Setup: " + ", ".join(f"{k}={v}" for k, v in constant.items()), ""]
        out += [f"Go is {_go(done[0]['go'])}.", ""]
        header = [done[0]["size"]["name"], *varying]
        for _name, label, _kind in GROWTH_FIGURES:
            header += [f"{label} Go", f"{label} ours"]
        header += ["errors Go/ours", "over deadline Go/ours", "load 1m"]
        table = []
        for r, extra in zip(done, extras, strict=True):
            cells = [str(r["size"]["value"]), *(str(extra.get(k, "-")) for k in varying)]
            for name, _label, kind in GROWTH_FIGURES:
                cells += [fmt(r["go"][name], kind), fmt(r["ours"][name], kind)]
            cells += [f"{r['go']['errors']}/{r['ours']['errors']}",
                      f"{r['go']['over_deadline']}/{r['ours']['over_deadline']}", _load(r)]
            table.append(cells)
        out += _table(header, table)
        out.append("")
        for r in done:
            if r["go"].get("watched") or r["ours"].get("watched"):
                out.append(f"- {r['size']['value']} {r['size']['name']}: Go reports {_watched(r['go'])}; "
                           f"ours reports {_watched(r['ours'])}")
        if any(r["go"].get("watched") or r["ours"].get("watched") for r in done):
            out.append("")
        out += _growth(rows, GROWTH_FIGURES)
        out += _more_go(done, GROWTH_FIGURES)
    out += _skips(rows)
    out.append("")
    return out


def render_load(title: str, rows: Sequence[Row]) -> list[str]:
    out = [f"## {title}", ""]
    done = [r for r in rows if "skipped" not in r]
    if done:
        out += [f"Each exporter alone, scraped back to back for {done[0]['go']['duration_seconds']:.0f} s "
                f"by each number of scrapers. Go is {_go(done[0]['go'])}.", ""]
        header = ["exporter", done[0]["size"]["name"]]
        for _name, label, _kind in CONCURRENCY_FIGURES:
            header += [f"{label} Go", f"{label} ours"]
        header += ["errors Go/ours", "load 1m"]
        table = []
        for r in done:
            cells = [r["exporter"], str(r["size"]["value"])]
            for name, _label, kind in CONCURRENCY_FIGURES:
                cells += [fmt(r["go"][name], kind), fmt(r["ours"][name], kind)]
            cells += [f"{r['go']['errors']}/{r['ours']['errors']}", _load(r)]
            table.append(cells)
        out += _table(header, table)
        out.append("")
        out += _more_go(done, CONCURRENCY_FIGURES)
    out += _skips(rows)
    out.append("")
    return out


SERVING_FIGURES: list[tuple[str, str, str]] = [
    ("first_good_ms", "start to first good scrape (ms)", "n"),
    ("idle_wakeups_per_s", "idle wake-ups per second", "n"),
    ("idle_cpu_ms_per_min", "idle CPU (ms per minute)", "n"),
    ("steady_rss_mib", "steady RSS (MiB)", "n"),
    ("flood_p50_ms", "scrape p50 during the flood (ms)", "n"),
    ("flood_p99_ms", "scrape p99 during the flood (ms)", "n"),
    ("flood_held", "flood connections held", "n"),
    ("after_rss_delta_mib", "RSS after the flood - steady (MiB)", "n"),
    ("after_threads_delta", "threads after the flood - steady", "n"),
    ("burst_p50_ms", "connect burst p50 (ms)", "n"),
    ("burst_p99_ms", "connect burst p99 (ms)", "n"),
    ("burst_max_ms", "connect burst max (ms)", "n"),
    ("burst_listen_overflows", "listen-queue overflows in the burst", "n"),
]


def render_serving(title: str, rows: Sequence[Row]) -> list[str]:
    """The serving scenario: one table per exporter, every figure of every column."""
    out = [f"## {title}", ""]
    for row in rows:
        if "skipped" in row:
            continue
        go, ours = row["go"], row["ours"]
        more = [(column, side) for column, side in (row.get("more_go") or {}).items() if "first_error" not in side]
        out += [f"### {row['exporter']}", ""]
        table = []
        for name, label, kind in SERVING_FIGURES:
            cells = [label, fmt(go.get(name), kind), fmt(ours.get(name), kind), ratio(ours.get(name), go.get(name))]
            for _column, side in more:
                cells += [fmt(side.get(name), kind), ratio(ours.get(name), side.get(name))]
            table.append(cells)
        header = ["figure", _go(go), "ours", "ours/Go"]
        for column, _side in more:
            header += [f"Go ({column})", f"ours/Go ({column})"]
        out += [*_table(header, table), ""]
    out += _skips(rows)
    return out


LAYOUTS = {"side-by-side": render_side_by_side, "scale": render_scale, "load": render_load,
           "serving": render_serving}


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Exporters benchmark: ours against the Go exporters",
        "",
        f"- when: {report['started']} ({report['elapsed_seconds']:.0f} s)",
        f"- machine: {m['nproc']} CPUs, {m['cpu_model']}, kernel {m['kernel']}, Python {m['python']}",
        f"- load average before/after: {m['loadavg_before']} / {m['loadavg_after']}",
        "- Go exporters (the first column of each is the reference of the ratios): " + "; ".join(
            f"{kind} " + ", ".join(f"{c['column']} {c['version']}" for c in columns) if columns else f"{kind} none"
            for kind, columns in m.get("go", {}).items()),
        f"- servers: {m.get('servers', {})}",
        f"- options: {report['options']}",
        "",
    ]
    rows: list[Row] = report["results"]
    by_scenario: dict[str, list[Row]] = {}
    for row in rows:
        by_scenario.setdefault(row["scenario"], []).append(row)
    scenarios = report.get("scenarios", {})
    for scenario, srows in by_scenario.items():
        about = scenarios.get(scenario, {})
        render = LAYOUTS[about.get("layout", "scale")]
        lines += render(about.get("title", scenario), srows)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
