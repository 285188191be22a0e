"""deploy/compose: `docker-compose config` accepts the stack, which has the promised services and ports."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, reference_binary
from tests.deploy.conftest import DEPLOY, output, run, tool

COMPOSE_DIR = DEPLOY / "compose"
IMAGES = {
    "prometheus": "prom/prometheus:v2.51.0",
    "alertmanager": "prom/alertmanager:v0.27.0",
    "grafana": "grafana/grafana:10.4.0",
}
EXPORTERS = {"node-exporter": 9100, "postgres-exporter": 9187, "redis-exporter": 9121}


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The stack as docker-compose resolves it (anchors merged, variables at their defaults)."""
    compose = tool("docker-compose")
    result = run([compose, "--project-directory", str(COMPOSE_DIR), "-f", str(COMPOSE_DIR / "docker-compose.yml"),
                  "config"], cwd=COMPOSE_DIR)
    assert result.returncode == 0, output(result)
    assert "WARNING" not in result.stderr, output(result)
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def published(service: dict[str, Any]) -> set[tuple[int, int]]:
    ports = set()
    for port in service.get("ports", []):
        ports.add((int(port["published"]), int(port["target"])))
    return ports


def test_monitoring_images_pinned(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name, image in IMAGES.items():
        assert services[name]["image"] == image
    assert published(services["grafana"]) == {(3001, 3000)}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_our_exporters_replace_the_go_ones(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name, port in EXPORTERS.items():
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/container/Dockerfile"
        assert Path(service["build"]["context"]).resolve() == REPO
        # the image of the exporter's own build target: its entrypoint is the exporter
        assert service["build"]["target"] == name
        assert service["image"] == f"exporters/{name}:latest"
        assert all(arg.startswith("-") for arg in service["command"]), service["command"]
        assert any(arg.endswith(f"web.listen-address=:{port}") for arg in service["command"]), service["command"]
        if service.get("network_mode") != "host":
            assert published(service) == {(port, port)}
        assert service.get("user") is None  # the image's own non-root user, as upstream's
        assert "ALL" in service["cap_drop"]
    node = services["node-exporter"]
    assert node["pid"] == "host"
    assert {"--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host"} <= set(node["command"])


def test_secrets_not_in_exporter_command_lines(resolved: dict[str, Any]) -> None:
    for name in EXPORTERS:
        for arg in resolved["services"][name]["command"]:
            assert "password" not in arg.lower() and "@" not in arg, arg


def test_bind_mounts_exist(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith(str(REPO)):
                assert Path(source).exists(), f"{name}: {source}"


def test_compose_prometheus_config(tmp_path: Path, resolved: dict[str, Any]) -> None:
    promtool = reference_binary("promtool")
    shutil.copy(COMPOSE_DIR / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copytree(DEPLOY / "prometheus" / "rules", tmp_path / "rules")
    result = run([promtool, "check", "config", "prometheus.yml"], cwd=tmp_path)
    assert result.returncode == 0, output(result)
    config = yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    for name, port in EXPORTERS.items():
        host = "host.docker.internal" if resolved["services"][name].get("network_mode") == "host" else name
        assert jobs[name.removesuffix("-exporter")] == [f"{host}:{port}"]
