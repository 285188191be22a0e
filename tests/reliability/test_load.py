"""Short load run in the suite: concurrent scrapers above --web.max-requests, p99, RSS growth.

The full run (50 scrapers for 60 s against each exporter, and a 10,000-scrape leak check)
is ``python -m tests.reliability.load_full``; its numbers are in RELIABILITY.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import record
from tests.reliability.launch import launch
from tests.reliability.loadgen import run_load

CONCURRENCY = 20
DURATION = 10.0
MAX_REQUESTS = 4
LIGHT_COLLECTORS = ["--collector.disable-defaults", "--collector.loadavg", "--collector.meminfo",
                    "--collector.stat", "--collector.uname", "--collector.time", "--collector.filefd",
                    "--collector.vmstat", "--collector.netdev", "--collector.cpu"]


@pytest.mark.timeout(90)
def test_node_exporter_under_concurrent_scrapers(tmp_path: Path) -> None:
    # identical scrapes would share one collection and one slot: the limit is what is tested here
    exporter = launch("node", [*LIGHT_COLLECTORS, f"--web.max-requests={MAX_REQUESTS}", "--no-scrape.share"],
                      tmp_path)
    try:
        result = run_load(exporter.url + "/metrics", exporter.proc.pid, CONCURRENCY, duration=DURATION,
                          scrape_timeout=5, backoff_503=0.05)
        assert exporter.proc.poll() is None, "the exporter died under load"
    finally:
        exporter.stop()
    summary = result.summary()
    record("node load (short)", concurrency=CONCURRENCY, duration_s=DURATION, max_requests=MAX_REQUESTS, **summary)
    assert not result.errors, f"connection-level failures: {result.errors}"
    assert set(result.statuses) <= {200, 503}, f"unexpected statuses {result.statuses}"
    assert result.statuses[503] > 0, "20 scrapers against --web.max-requests=4 must meet the 503 limit"
    # enough scrapes to judge RSS growth; throughput is a benchmark (bench/), not a test
    assert result.statuses[200] >= 50, f"too few scrapes to judge: {summary}"
    assert result.percentile(0.99) < 2.0, f"p99 of successful scrapes too high: {summary}"
    assert result.rss_growth() < 5 * 2**20, f"RSS grew by more than 5 MB after warm-up: {summary}"
    assert "Traceback" not in exporter.log()
