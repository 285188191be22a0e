"""The benchmark harness end to end in --quick mode on the node exporter (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import build_parser, options_from_args
from bench.harness import Launch, compare, percentile
from bench.procstat import parse_stat_cpu, parse_status_memory
from bench.report import render_markdown
from bench.scenarios import Scenario, discover
from bench.targets import GOOD, go_binaries
from tests.conftest import GENERATIONS, REPO, find_reference_binary, free_port, missing, reference_binary

SIDE_FIELDS = {
    "p50_seconds", "p99_seconds", "cpu_seconds_per_scrape", "peak_rss_bytes", "steady_rss_bytes",
    "wire_bytes", "body_bytes", "start_seconds", "errors", "scrapes",
}
RATIO_FIELDS = {
    "p50_seconds", "p99_seconds", "cpu_seconds_per_scrape", "peak_rss_bytes", "steady_rss_bytes",
    "wire_bytes", "start_seconds",
}


@pytest.mark.timeout(90)
def test_quick_run_reports_every_field(tmp_path: Path) -> None:
    """`python -m bench --quick` with all three exporters (Debian 12's postgres_exporter 0.11.1
    crashed here under it when it was the only Go column)."""
    reference_binary("node")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--scrapes", "3", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=80,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["options"]["scenarios"] == ["default"]
    for key in ("nproc", "cpu_model", "kernel", "python", "loadavg_before", "loadavg_after"):
        assert report["machine"][key], key
    # every Go generation present is a column, the newer one first
    present = [g for g in ("trixie", "bookworm") if find_reference_binary("node", g)]
    assert [c["column"] for c in report["machine"]["go"]["node"]] == present
    rows = {row["exporter"]: row for row in report["results"]}
    assert list(rows) == ["node", "postgres", "redis"]
    for kind in ("postgres", "redis"):
        if "skipped" in rows[kind]:
            missing(f"the {kind} benchmark ({rows[kind]['skipped']})")
        assert rows[kind]["ours"]["errors"] == 0 and rows[kind]["go"]["errors"] == 0, rows[kind]
    floor = rows["postgres"]["extra"]["psycopg_floor"]  # what importing psycopg and connecting costs
    assert 0 < floor["rss_bytes"] < rows["postgres"]["ours"]["steady_rss_bytes"], floor
    assert floor["import_seconds"] > 0 and floor["connect_seconds"] > 0
    assert floor["start_seconds"] > floor["import_seconds"] + floor["connect_seconds"]
    row = rows["node"]
    assert row["scenario"] == "default"
    assert "skipped" not in row, row.get("skipped")
    assert len(row["loadavg"]) == 3
    assert row["go"]["column"] == present[0] and list(row["more_go"]) == present[1:]
    for side in ("go", "ours"):
        assert SIDE_FIELDS <= set(row[side]), SIDE_FIELDS - set(row[side])
        assert row[side]["scrapes"] == 3
        assert row[side]["errors"] == 0, row[side]["first_error"]
        assert row[side]["body_bytes"] > 0 and row[side]["peak_rss_bytes"] > 0
        assert row[side]["p99_seconds"] >= row[side]["p50_seconds"] > 0
    assert RATIO_FIELDS <= set(row["ratio"])
    expected = row["ours"]["wire_bytes"] / row["go"]["wire_bytes"]
    assert row["ratio"]["wire_bytes"] == pytest.approx(expected)
    markdown = (tmp_path / "latest.md").read_text()
    assert "### node" in markdown and "p99 scrape latency" in markdown and "ours/Go" in markdown
    assert f"Go ({present[0]})" in markdown and "Load average (1 min)" in markdown
    assert "only imports psycopg and connects" in markdown and "MiB above it" in markdown
    assert markdown == render_markdown(report)


def test_parse_stat_cpu_counts_own_and_children_ticks() -> None:
    # The command name may hold spaces and ')'; fields count from the last ')'.
    fields = ["S"] + ["0"] * 10 + ["150", "50", "30", "20"] + ["0"] * 30
    text = "1234 (a) b) c) " + " ".join(fields)
    assert parse_stat_cpu(text, ticks_per_second=100) == pytest.approx(2.5)


def test_parse_status_memory_reads_kb_and_tolerates_absent_fields() -> None:
    assert parse_status_memory("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n") == (1024 * 1024, 2048 * 1024)
    assert parse_status_memory("Name:\tkthreadd\nState:\tS\n") == (0, 0)


def test_percentile_interpolates() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0], 99) == 3.0


def test_scenarios_are_found_one_module_each() -> None:
    scenarios = discover()
    assert list(scenarios)[:1] == ["default"]
    assert {"default", "pg-tables", "redis-keys", "host", "concurrency"} <= set(scenarios)
    for name, scenario in scenarios.items():
        assert isinstance(scenario, Scenario) and scenario.name == name
        assert scenario.exporter in (None, "node", "postgres", "redis")
    # each size a scenario declares is a flag, with its --quick value when not given
    parser = build_parser(scenarios)
    opts, chosen = options_from_args(parser.parse_args(["--quick", "--tables", "7", "--scenarios", "pg-tables"]),
                                     scenarios, REPO)
    assert chosen == ["pg-tables"]
    assert opts.size("tables") == [7] and opts.size("keys") == [1000, 5000, 10000]


def test_go_columns_selectable(monkeypatch: pytest.MonkeyPatch) -> None:
    scenarios = discover()
    monkeypatch.setenv("EXPORTERS_BENCH_GO", "bookworm")
    monkeypatch.setenv("EXPORTERS_BENCH_GO_REDIS", "/opt/redis_exporter")
    opts, _ = options_from_args(build_parser(scenarios).parse_args([]), scenarios, REPO)
    assert list(opts.go) == ["bookworm"] and opts.go_custom == {"redis": "/opt/redis_exporter"}
    assert [b.column for b in go_binaries("redis", opts.go, opts.go_custom)][:1] == ["custom"]
    monkeypatch.delenv("EXPORTERS_BENCH_GO")
    opts, _ = options_from_args(build_parser(scenarios).parse_args(["--go", "trixie"]), scenarios, REPO)
    assert list(opts.go) == ["trixie"] and set(GENERATIONS) >= set(opts.go)
    with pytest.raises(SystemExit):
        build_parser(scenarios).parse_args(["--go", "sid"])


@pytest.mark.timeout(60)
def test_an_extra_go_column_that_does_not_start_is_left_out(tmp_path: Path) -> None:
    port, dead = free_port(), free_port()
    ours = Launch("ours", [sys.executable, "-m", "exporters.node", f"--web.listen-address=127.0.0.1:{port}"],
                  port, GOOD["node"], column="ours")
    broken = Launch("go-bookworm", ["false"], dead, GOOD["node"], column="bookworm", optional=True)
    first, second = compare([ours, broken], tmp_path, scrapes=2, warmup=0, start_timeout=20)
    assert first.scrapes == 2 and first.errors == 0, first.first_error
    assert second.scrapes == 0 and second.first_error.startswith("did not start")
