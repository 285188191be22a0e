"""The benchmark harness end to end in --quick mode on the node exporter (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import percentile
from bench.procstat import parse_stat_cpu, parse_status_memory
from bench.report import render_markdown
from tests.conftest import REPO, reference_binary

SIDE_FIELDS = {
    "p50_seconds", "p99_seconds", "cpu_seconds_per_scrape", "peak_rss_bytes", "steady_rss_bytes",
    "wire_bytes", "body_bytes", "start_seconds", "errors", "scrapes",
}
RATIO_FIELDS = {
    "p50_seconds", "p99_seconds", "cpu_seconds_per_scrape", "peak_rss_bytes", "steady_rss_bytes",
    "wire_bytes", "start_seconds",
}


@pytest.mark.timeout(60)
def test_quick_node_run_reports_every_field(tmp_path: Path) -> None:
    reference_binary("node")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--exporters", "node", "--scrapes", "3", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=50,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["options"]["scenarios"] == ["default"]
    for key in ("nproc", "cpu_model", "kernel", "python", "loadavg_before", "loadavg_after"):
        assert report["machine"][key], key
    [row] = report["results"]
    assert row["scenario"] == "default" and row["exporter"] == "node"
    assert "skipped" not in row, row.get("skipped")
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
