"""NodeCollectorFailed against real scrapes of our node exporter, through Prometheus 2.53's promtool.

The synthetic cases are in deploy/prometheus/tests/node.yml; here the series are what the
exporter reports on this machine: every collector's success as scraped, held for two days, must
raise no alert (collectors with no hardware here report 0, as upstream's do); and a collector
that succeeded and then fails (its procfs file removed under a procfs of symlinks) must.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import reference_binary
from tests.deploy.conftest import DEPLOY, output, run

RULES = DEPLOY / "prometheus" / "rules" / "exporters.yml"
INSTANCE = {"job": "node", "instance": "h:9100"}


def collector_success(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        body = response.read().decode()
    found = {m.group(1): int(float(m.group(2)))
             for m in re.finditer(r'^node_scrape_collector_success\{collector="([^"]+)"\} (\S+)$', body, re.MULTILINE)}
    assert found, body[:2000]
    return found


def alert(collector: str) -> dict[str, object]:
    """The expected NodeCollectorFailed alert, its annotations rendered from the rule's templates."""
    [rule] = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
              if rule.get("alert") == "NodeCollectorFailed"]
    labels = {**INSTANCE, "collector": collector}
    annotations = {key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
                   for key, text in rule["annotations"].items()}
    return {"exp_labels": {"severity": "warning", **labels}, "exp_annotations": annotations}


def promtool_test(tmp_path: Path, series: dict[str, str], checks: list[dict[str, object]]) -> None:
    """Run one promtool rule test of NodeCollectorFailed."""
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": f'node_scrape_collector_success{{job="node", instance="h:9100", collector="{c}"}}',
                 "values": values}
                for c, values in sorted(series.items())
            ],
            "alert_rule_test": [{"alertname": "NodeCollectorFailed", **check} for check in checks],
        }],
    }
    path = tmp_path / "live.yml"
    path.write_text(yaml.safe_dump(test))
    result = run([reference_binary("promtool", "trixie"), "test", "rules", path.name], cwd=tmp_path)
    assert result.returncode == 0, output(result)


@pytest.mark.timeout(90)
def test_quiet_on_this_machine(tmp_path: Path, exporter_factory) -> None:  # type: ignore[no-untyped-def]
    exporter = exporter_factory("node")
    success = collector_success(exporter.url)
    series = {collector: f"{value}x3000" for collector, value in success.items()}
    promtool_test(tmp_path, series, [{"eval_time": t, "exp_alerts": []} for t in ("16m", "1h", "2d")])


@pytest.mark.timeout(90)
def test_fires_on_a_collector_that_starts_failing(tmp_path: Path, exporter_factory) -> None:  # type: ignore[no-untyped-def]
    procfs = tmp_path / "proc"
    procfs.mkdir()
    for entry in Path("/proc").iterdir():
        (procfs / entry.name).symlink_to(entry)
    exporter = exporter_factory("node", [f"--path.procfs={procfs}"])
    before = collector_success(exporter.url)
    assert before.get("loadavg") == 1, before
    (procfs / "loadavg").unlink()
    after = collector_success(exporter.url)
    assert {c for c in before if before[c] == 1 and after.get(c) == 0} == {"loadavg"}, (before, after)
    # 10 minutes as before, then as after, for two days
    series = {c: f"{before[c]}x10 {after.get(c, before[c])}x3000" for c in before}
    promtool_test(tmp_path, series, [
        {"eval_time": "20m", "exp_alerts": []},  # failing since 11m: pending
        {"eval_time": "30m", "exp_alerts": [alert("loadavg")]},
        {"eval_time": "2d", "exp_alerts": [alert("loadavg")]},
    ])
