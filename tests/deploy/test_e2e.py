"""End to end: the real Prometheus, configured from deploy/prometheus, scrapes our three exporters.

Prometheus (Debian package) runs with deploy/prometheus/prometheus.yml and its rules, rewritten
only where a test must: loopback targets on free ports, 1-2 s intervals, a temporary storage
directory and no Alertmanager. The exporters run against the local PostgreSQL and Redis (the
shared fixtures of tests/conftest.py); a second redis exporter points at a Redis that is not
running, for RedisDown.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RunningExporter, free_port, reference_binary, start_exporter
from tests.deploy.conftest import DEPLOY, running_prometheus, wait_for
from tests.deploy.test_grafana import DASHBOARDS, metric_names, panel_exprs

pytestmark = [pytest.mark.slow]

RULES_DIR = DEPLOY / "prometheus" / "rules"
QUERIES_FILE = DEPLOY.parent / "queries" / "queries.yaml"
SCRAPE_INTERVAL = "2s"
# Grafana variables, as the dashboards' "All" selection and a short range resolve them.
GRAFANA_VARIABLES = {"$instance": ".+", "$__rate_interval": "20s"}
# Naming conventions promtool lints for that upstream's metric names break on purpose
# (the names are upstream's: node_memory_MemTotal_bytes, pg_stat_database_xact_commit,
# redis_rdb_last_bgsave_duration_sec, the gauge redis_rdb_saves_total, ...).
UPSTREAM_NAMING_LINTS = re.compile(
    r"^\S+ (metric names should be written in 'snake_case' not 'camelCase'"
    r"|(non-)?counter metrics should (not )?have \"_total\" suffix"
    r"|non-histogram and non-summary metrics should not have \"_(count|sum|bucket)\" suffix"
    r"|use base unit \"\w+\" instead of \"\w+\""
    r"|metric names should not contain abbreviated units)$"
)
# Metrics in alert rules that an exporter only emits in some setups.
CONDITIONAL_METRICS = {"redis_master_link_up"}  # only on a replica
TABLE = "exporters_e2e_sizes"


@dataclass
class Stack:
    prometheus_url: str
    exporters: dict[str, RunningExporter]
    redis_down_instance: str
    postgres_dsn: str

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.prometheus_url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def alerts(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]


def prometheus_config(targets: dict[str, list[str]]) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with loopback targets and test intervals."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval=SCRAPE_INTERVAL, scrape_timeout=SCRAPE_INTERVAL, evaluation_interval="1s")
    config.pop("alerting", None)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(targets), "the deployed jobs changed: update this test"
    for name, job in jobs.items():
        job["static_configs"] = [{"targets": targets[name]}]
    return config


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def sized_table(postgres_dsn: str) -> Iterator[None]:
    """A user table, so that the queries file's per-table sizes have something to report."""
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id int PRIMARY KEY, payload text)")
        conn.execute(f"INSERT INTO {TABLE} SELECT g, repeat('x', 100) FROM generate_series(1, 100) g "
                     "ON CONFLICT DO NOTHING")
    yield
    with psycopg.connect(postgres_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


@pytest.fixture(scope="module")
def stack(work_dir: Path, postgres_dsn: str, redis_url: str, sized_table: None) -> Iterator[Stack]:
    prometheus = reference_binary("prometheus")
    exporters: dict[str, RunningExporter] = {}
    try:
        exporters["node"] = start_exporter("node", [], work_dir)
        exporters["postgres"] = start_exporter(
            "postgres", ["--extend.query-path", str(QUERIES_FILE)], work_dir,
            env={"DATA_SOURCE_NAME": postgres_dsn})
        exporters["redis"] = start_exporter("redis", [], work_dir, env={"REDIS_ADDR": redis_url})
        # nothing listens on this port: the Redis behind this exporter is stopped
        exporters["redis-down"] = start_exporter(
            "redis", [], work_dir, env={"REDIS_ADDR": f"redis://127.0.0.1:{free_port()}"})

        def address(name: str) -> str:
            return f"127.0.0.1:{exporters[name].port}"

        config = prometheus_config({
            "node": [address("node")],
            "postgres": [address("postgres")],
            "redis": [address("redis"), address("redis-down")],
        })
        shutil.copytree(RULES_DIR, work_dir / "rules", dirs_exist_ok=True)
        with running_prometheus(prometheus, work_dir, config) as url:
            yield Stack(url, exporters, address("redis-down"), postgres_dsn)
    finally:
        for exporter in exporters.values():
            exporter.stop()


@pytest.fixture(scope="module")
def all_up(stack: Stack) -> Stack:
    """The stack once every target has been scraped successfully and rules evaluated a few times."""

    def healthy() -> bool:
        targets = stack.api("targets")["activeTargets"]
        return len(targets) == 4 and all(t["health"] == "up" for t in targets)

    wait_for("every target up", healthy, timeout=30)
    # rate() over the dashboards' 20 s needs a few samples
    time.sleep(8)
    return stack


def scrape(exporter: RunningExporter) -> str:
    with urllib.request.urlopen(f"{exporter.url}/metrics", timeout=30) as response:
        text: str = response.read().decode()
    return text


@pytest.mark.timeout(120)
def test_every_target_up(all_up: Stack) -> None:
    targets = all_up.api("targets")["activeTargets"]
    assert {t["labels"]["job"] for t in targets} == {"node", "postgres", "redis"}
    assert all(t["health"] == "up" and not t["lastError"] for t in targets), targets
    assert {s["metric"]["job"] for s in all_up.query("up == 1")} == {"node", "postgres", "redis"}


@pytest.mark.timeout(120)
def test_every_rule_group_loads_and_evaluates(all_up: Stack) -> None:
    deployed = {}
    for path in RULES_DIR.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            deployed[group["name"]] = {r.get("alert") or r["record"] for r in group["rules"]}
    loaded = {g["name"]: g for g in all_up.api("rules")["groups"]}
    assert set(loaded) == set(deployed)
    for name, group in loaded.items():
        assert {r["name"] for r in group["rules"]} == deployed[name]
        for rule in group["rules"]:
            assert rule["health"] == "ok", rule
            assert not rule.get("lastError"), rule


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["node", "postgres", "redis"])
def test_promtool_check_metrics(all_up: Stack, kind: str) -> None:
    promtool = reference_binary("promtool")
    text = scrape(all_up.exporters[kind])
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                            timeout=60, check=False)
    # 0: clean; 3: lint findings only. Any finding must be one of upstream's own naming choices.
    assert result.returncode in (0, 3), result.stderr
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    unexpected = [p for p in problems if not UPSTREAM_NAMING_LINTS.match(p)]
    assert unexpected == [], unexpected


@pytest.mark.timeout(120)
def test_rule_metrics_are_exported(all_up: Stack) -> None:
    exported = set()
    for kind in ("node", "postgres", "redis"):
        for line in scrape(all_up.exporters[kind]).splitlines():
            if line and not line.startswith("#"):
                exported.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    rules = [rule for path in RULES_DIR.glob("*.yml") for group in yaml.safe_load(path.read_text())["groups"]
             for rule in group["rules"]]
    recorded = {rule["record"] for rule in rules if "record" in rule}
    for rule in rules:
        missing_names = metric_names(rule["expr"]) - exported - recorded - {"up"} - CONDITIONAL_METRICS
        assert missing_names == set(), f"{rule.get('alert') or rule['record']}: {missing_names}"


@pytest.mark.timeout(120)
def test_slow_query_makes_slow_queries_pending(all_up: Stack) -> None:
    import psycopg

    conn = psycopg.connect(all_up.postgres_dsn, autocommit=True, connect_timeout=5)
    datname = conn.info.dbname
    before = all_up.query(f'pg_slow_query_count{{datname="{datname}"}}')
    assert before, "pg_slow_query_count is not exported"
    if before[0]["value"][1] == "0":
        # nothing else runs slow statements here (the server may be shared): the alert must be quiet
        assert [a for a in all_up.alerts("SlowQueries") if a["labels"]["datname"] == datname] == []
    sleeper = threading.Thread(target=lambda: _sleep_quietly(conn, 60), daemon=True)
    sleeper.start()
    try:
        # the server may be shared: other databases' slow statements raise their own alerts
        alerts = wait_for("SlowQueries pending", lambda: [a for a in all_up.alerts("SlowQueries")
                                                          if a["labels"]["datname"] == datname], timeout=45)
        assert all(a["state"] in ("pending", "firing") for a in alerts), alerts
        longest = all_up.query(f'pg_slow_query_max_duration_seconds{{datname="{datname}"}} > 1')
        assert longest, "the longest statement's duration is not reported"
    finally:
        conn.cancel_safe(timeout=5)
        sleeper.join(10)
        conn.close()


def _sleep_quietly(conn: Any, seconds: int) -> None:
    import psycopg

    try:
        conn.execute("SELECT pg_sleep(%s)", (seconds,))
    except psycopg.errors.QueryCanceled:
        pass


@pytest.mark.timeout(120)
def test_stopped_redis_makes_redis_down_pending(all_up: Stack) -> None:
    alerts = wait_for("RedisDown pending", lambda: all_up.alerts("RedisDown"), timeout=30)
    assert [a["labels"]["instance"] for a in alerts] == [all_up.redis_down_instance]
    assert alerts[0]["state"] in ("pending", "firing")
    # the reachable Redis is up and not alerting
    up = {s["metric"]["instance"]: s["value"][1] for s in all_up.query("redis_up")}
    assert up[all_up.redis_down_instance] == "0"
    assert list(up.values()).count("1") == 1


def panel_queries() -> list[tuple[str, str, str]]:
    queries = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                queries.append((path.stem, panel["title"], expr))
    return queries


@pytest.mark.timeout(120)
def test_every_dashboard_panel_returns_data(all_up: Stack) -> None:
    assert len(panel_queries()) == sum(len(panel_exprs(json.loads(p.read_text()))) for p in DASHBOARDS)
    empty = []
    for dashboard, title, expr in panel_queries():
        if not all_up.query(expr):
            empty.append(f"{dashboard}: {title}: {expr}")
    assert empty == [], "panels without data:\n" + "\n".join(empty)


@pytest.mark.timeout(120)
def test_every_dashboard_variable_has_values(all_up: Stack) -> None:
    for path in DASHBOARDS:
        for variable in json.loads(path.read_text())["templating"]["list"]:
            match = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["query"])
            assert match, variable
            values = all_up.api("label/" + match.group(2) + "/values", **{"match[]": match.group(1)})
            assert values, f"{path.stem}: ${variable['name']} has no values"

