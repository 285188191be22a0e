"""deploy/grafana: provisioning files and dashboards are consistent; panels query only our exporters' metrics.

That every panel's expression returns data from a real Prometheus is checked in test_e2e.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PREFIX = {"node": "node_", "postgres": "pg_", "redis": "redis_"}
PROMQL_WORDS = {
    "rate", "increase", "sum", "avg", "max", "min", "count", "topk", "by", "without", "on", "ignoring",
    "and", "or", "unless", "label_values", "predict_linear", "irate", "bool",
}


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panel_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers outside braces, strings and ranges."""
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", expr)
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", stripped)
    # a name followed by "(" is a function (rate, max_over_time, ...)
    names = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", stripped))
    return {n for n in names if n not in PROMQL_WORDS}


def test_one_dashboard_per_exporter() -> None:
    assert [p.stem for p in DASHBOARDS] == sorted(PREFIX)


def test_datasource_and_provider() -> None:
    (datasource_file,) = (GRAFANA / "provisioning" / "datasources").glob("*.yml")
    datasources = yaml.safe_load(datasource_file.read_text())["datasources"]
    uids = {d["uid"] for d in datasources if d["type"] == "prometheus"}
    (provider_file,) = (GRAFANA / "provisioning" / "dashboards").glob("*.yml")
    providers = yaml.safe_load(provider_file.read_text())["providers"]
    assert providers[0]["type"] == "file"
    # the compose stack mounts the dashboards where the provider looks for them
    compose = (DEPLOY / "compose" / "docker-compose.yml").read_text()
    assert f"../grafana/dashboards:{providers[0]['options']['path']}:ro" in compose
    for path in DASHBOARDS:
        for panel in load(path)["panels"]:
            assert panel["datasource"]["uid"] in uids, f"{path.name}: {panel['title']}"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_structure(path: Path) -> None:
    dashboard = load(path)
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    used = set(re.findall(r"\$(\w+)", " ".join(panel_exprs(dashboard)))) - {"__rate_interval"}
    assert used <= variables


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_use_only_their_exporters_metrics(path: Path) -> None:
    prefix = PREFIX[path.stem]
    for expr in panel_exprs(load(path)):
        names = metric_names(expr)
        assert names, expr
        for name in names:
            assert name.startswith(prefix), f"{name} in {expr}"


def test_metric_name_extraction() -> None:
    expr = 'sum by (instance, mode) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) / on (instance) node_load1'
    assert metric_names(expr) == {"node_cpu_seconds_total", "node_load1"}
