"""deploy/kubernetes: core kinds validate against the Kubernetes schema; the node exporter runs as upstream's."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import missing
from tests.deploy.conftest import DEPLOY

MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
OPERATOR_KINDS = {"ServiceMonitor", "Probe", "PodMonitor", "PrometheusRule"}


def validator() -> Any:
    """The kubernetes_validate module (PyPI kubernetes-validate), or skip/fail as a missing tool."""
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        missing("kubernetes-validate (PyPI)")
    return kubernetes_validate


def documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def by_kind_and_name() -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in documents()}


def containers(name: str, kind: str = "Deployment") -> dict[str, dict[str, Any]]:
    pod = by_kind_and_name()[(kind, name)]["spec"]["template"]["spec"]
    return {c["name"]: c for c in pod["containers"]}


@pytest.mark.parametrize(
    "doc", [d for _, d in documents() if d["kind"] not in OPERATOR_KINDS],
    ids=lambda d: f"{d['kind']}/{d['metadata']['name']}",
)
def test_core_kinds_validate_strictly(doc: dict[str, Any]) -> None:
    kubernetes_validate = validator()
    # strict: an unknown or misspelt field is an error, not ignored
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_validator_rejects_a_misspelt_field() -> None:
    kubernetes_validate = validator()
    doc = by_kind_and_name()[("DaemonSet", "node-exporter")]
    broken = yaml.safe_load(yaml.safe_dump(doc))
    broken["spec"]["template"]["spec"]["hostNetwrok"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_node_exporter_daemonset_sees_the_host() -> None:
    daemonset = by_kind_and_name()[("DaemonSet", "node-exporter")]
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["hostPID"] is True
    volumes = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert all(m.get("readOnly") for m in container["volumeMounts"])
    assert container["image"].startswith("exporters/node-exporter:")
    flags = dict(a.split("=", 1) for a in container["args"] if a.startswith("--path."))
    for flag, host_path in (("--path.procfs", "/proc"), ("--path.sysfs", "/sys"), ("--path.rootfs", "/")):
        assert mounts[flags[flag]] == host_path, flag
    assert container["ports"][0]["containerPort"] == 9100
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize(("workload", "kind", "exporter", "port"), [
    ("postgres", "StatefulSet", "postgres-exporter", 9187),
    ("redis", "Deployment", "redis-exporter", 9121),
])
def test_sidecars_take_secrets_from_secrets(workload: str, kind: str, exporter: str, port: int) -> None:
    sidecar = containers(workload, kind)[exporter]
    assert sidecar["image"].startswith(f"exporters/{exporter}:")
    assert sidecar["ports"][0]["containerPort"] == port
    for arg in sidecar["args"]:
        assert "password" not in arg.lower() and "@" not in arg, arg
    secret_vars = {e["name"] for e in sidecar["env"] if "valueFrom" in e}
    assert secret_vars & {"DATA_SOURCE_PASS", "DATA_SOURCE_NAME", "REDIS_PASSWORD"}
    service = by_kind_and_name()[("Service", workload)]
    assert port in {p["port"] for p in service["spec"]["ports"]}


def test_multi_target_deployments_and_probes() -> None:
    objects = by_kind_and_name()
    for name, port, path in (("postgres-exporter", 9187, "/probe"), ("redis-exporter", 9121, "/scrape")):
        (container,) = containers(name).values()
        assert container["ports"][0]["containerPort"] == port
        assert objects[("Service", name)]["spec"]["ports"][0]["port"] == port
        probes = [d for (kind, _), d in objects.items() if kind == "Probe" and d["spec"]["prober"]["path"] == path]
        assert probes and probes[0]["spec"]["prober"]["url"].startswith(f"{name}.")
        assert probes[0]["spec"]["targets"]["staticConfig"]["static"]


def test_service_monitors_select_existing_services() -> None:
    objects = by_kind_and_name()
    services = [d for (kind, _), d in objects.items() if kind == "Service"]
    monitors = [d for (kind, _), d in objects.items() if kind == "ServiceMonitor"]
    assert len(monitors) == 3
    for monitor in monitors:
        wanted = monitor["spec"]["selector"]["matchLabels"]
        port = monitor["spec"]["endpoints"][0]["port"]
        matching = [s for s in services if wanted.items() <= s["metadata"]["labels"].items()]
        assert matching, monitor["metadata"]["name"]
        assert port in {p["name"] for s in matching for p in s["spec"]["ports"]}


def test_every_manifest_file_is_listed() -> None:
    assert {p.name for p in MANIFESTS} == {
        "namespace.yaml", "node-exporter.yaml", "postgres-sidecar.yaml", "redis-sidecar.yaml",
        "multi-target.yaml", "prometheus-operator.yaml",
    }
