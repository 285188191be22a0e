"""bench.summary: several runs' reports folded into medians and the spread of the ratios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import summary


def report(p50_go: float, p50_ours: float, load: float) -> dict[str, object]:
    side = {"column": "trixie", "p50_seconds": p50_go}
    return {"results": [
        {"scenario": "default", "exporter": "redis", "size": {"name": "default", "value": 0},
         "go": side, "ours": {"p50_seconds": p50_ours}, "loadavg": [load, 0, 0],
         "ratio": {"p50_seconds": p50_ours / p50_go}, "more_ratio": {"bookworm": {"p50_seconds": 2.0}}},
        {"scenario": "default", "exporter": "node", "skipped": "no binary", "size": {}},
    ]}


@pytest.mark.timeout(10)
def test_medians_and_spread_over_runs(tmp_path: Path) -> None:
    runs = []
    for i, (go, ours, load) in enumerate([(0.010, 0.005, 0.2), (0.010, 0.020, 0.4), (0.020, 0.020, 0.3)]):
        out = tmp_path / f"run{i}"
        out.mkdir()
        (out / "latest.json").write_text(json.dumps(report(go, ours, load)))
        runs.append(out)
    lines = summary.summarise([summary.load(p) for p in runs])
    assert lines[0].startswith("3 runs")
    assert "| Go (trixie) | ours | ours/Go | ours/Go (bookworm) |" in "\n".join(lines)
    row = next(line for line in lines if "| p50 |" in line)
    # medians of each side (10 ms, 20 ms); ratios 0.5, 2.0, 1.0 -> median 1.00, spread 0.50-2.00
    assert row == "| default=0 | 0.2-0.4 | p50 | 10 ms | 20 ms | 1.00 (0.50-2.00) | 2.00 (2.00-2.00) |"
    assert not any("node" in line for line in lines)  # a skipped row is left out
