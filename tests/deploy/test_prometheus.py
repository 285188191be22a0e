"""deploy/prometheus: config, alert rules and their unit tests pass promtool; alertmanager.yml passes amtool."""

from __future__ import annotations

import http.server
import json
import queue
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import GENERATIONS, free_port, reference_binary, wait_http
from tests.deploy.conftest import DEPLOY, output, run, tool

PROMETHEUS_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))

# The alerts the deployment promises (deploy/README.md); each must exist and be unit-tested.
REQUIRED_ALERTS = {
    "InstanceDown", "HighCPUUsage", "HighMemoryUsage", "HighDiskUsage", "DatabaseConnectionsHigh",
    "SlowQueries", "PostgresDown", "RedisDown", "RedisMemoryHigh", "PostgresDeadlocks",
    "PostgresReplicationLag", "RedisRejectedConnections",
}


def alert_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def uncomment_examples(text: str) -> str:
    """prometheus.yml with its commented scrape-job examples turned into real jobs."""
    lines = []
    for line in text.splitlines():
        match = re.match(r"^  # ( *)(- job_name:.*|[a-z_]+:.*|- .*)$", line)
        lines.append(f"  {match.group(1)}{match.group(2)}" if match else line)
    return "\n".join(lines) + "\n"


def test_check_config() -> None:
    promtool = reference_binary("promtool")
    result = run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, output(result)
    # the rule_files glob must actually pick up the rules
    for path in RULE_FILES:
        assert path.name in result.stdout + result.stderr, output(result)


def test_commented_multi_target_examples_are_valid(tmp_path: Path) -> None:
    promtool = reference_binary("promtool")
    text = uncomment_examples((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config = yaml.safe_load(text)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["postgres-probe"]["metrics_path"] == "/probe"
    assert jobs["redis-scrape"]["metrics_path"] == "/scrape"
    for name in ("postgres-probe", "redis-scrape"):
        targets = [r.get("target_label") for r in jobs[name]["relabel_configs"]]
        assert targets == ["__param_target", "instance", "__address__"], name
    shutil.copytree(PROMETHEUS_DIR / "rules", tmp_path / "rules")
    (tmp_path / "prometheus.yml").write_text(text)
    result = run([promtool, "check", "config", "prometheus.yml"], cwd=tmp_path)
    assert result.returncode == 0, output(result)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_check_rules(generation: str) -> None:
    promtool = reference_binary("promtool", generation)
    assert RULE_FILES
    result = run([promtool, "check", "rules", *map(str, RULE_FILES)])
    assert result.returncode == 0, output(result)
    count = sum(len(group["rules"]) for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout, output(result)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_rule_unit_tests_pass(generation: str) -> None:
    promtool = reference_binary("promtool", generation)
    assert RULE_TESTS
    result = run([promtool, "test", "rules", *(p.name for p in RULE_TESTS)], cwd=PROMETHEUS_DIR / "tests")
    assert result.returncode == 0, output(result)
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), output(result)


def test_required_alerts_exist() -> None:
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert REQUIRED_ALERTS <= set(names), REQUIRED_ALERTS - set(names)
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts without a test where they fire"
    assert names - quiet == set(), "alerts without a test where they stay quiet"


def test_alertmanager_config() -> None:
    amtool = tool("amtool")
    result = run([amtool, "check-config", str(PROMETHEUS_DIR / "alertmanager.yml")])
    assert result.returncode == 0, output(result)
    config = yaml.safe_load((PROMETHEUS_DIR / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers[config["route"]["receiver"]]["webhook_configs"][0]["url"].startswith("http")


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: queue.Queue[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.put(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.timeout(60)
def test_alertmanager_delivers_to_the_webhook(tmp_path: Path) -> None:
    """alertmanager.yml routes an alert to its webhook receiver (URL and waits shortened for the test)."""
    alertmanager = tool("prometheus-alertmanager")
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    handler = type("Webhook", (_Webhook,), {"received": received})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = yaml.safe_load((PROMETHEUS_DIR / "alertmanager.yml").read_text())
    config["route"]["group_wait"] = "0s"
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = f"http://127.0.0.1:{server.server_port}/alerts"
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (tmp_path / "alertmanager.log").open("wb") as log:
        proc = subprocess.Popen(
            [alertmanager, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", proc=proc)
        alert = [{"labels": {"alertname": "RedisDown", "severity": "critical", "job": "redis",
                             "instance": "cache1:9121"},
                  "annotations": {"summary": "Redis behind cache1:9121 is down"}}]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v2/alerts", data=json.dumps(alert).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        deadline = time.monotonic() + 20
        while True:  # the API may refuse alerts for a moment after start
            try:
                with urllib.request.urlopen(request, timeout=5):
                    break
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        notification = received.get(timeout=30)
    finally:
        proc.terminate()
        proc.wait(10)
        server.shutdown()
        server.server_close()
    assert notification["receiver"] == config["route"]["receiver"]
    assert notification["status"] == "firing"
    assert [a["labels"]["alertname"] for a in notification["alerts"]] == ["RedisDown"]
    assert notification["groupLabels"] == {"alertname": "RedisDown", "job": "redis", "instance": "cache1:9121"}
