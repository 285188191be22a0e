"""Every exporter command line in deploy/ is one our CLI accepts: each is started and must serve.

The argv is taken from the systemd units (with their example environment files), the compose
file and the Kubernetes manifests; only what cannot exist here is swapped: the listen address
(a free loopback port), host mount points (/host/proc -> /proc, ...), installed file paths
(the queries file of this checkout, the Secrets' files written to a temporary directory) and the
data source (the local PostgreSQL and Redis).
"""

from __future__ import annotations

import re
import shlex
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, free_port
from tests.deploy.conftest import DEPLOY, EXECUTABLES, clean_env, exporter_argv, serving
from tests.deploy.test_systemd import parse_unit

QUERIES = str(REPO / "queries" / "queries.yaml")
PATHS = {
    "/usr/share/exporters/queries/queries.yaml": QUERIES,
    "/etc/exporters/queries.yaml": QUERIES,
    "/host/proc": "/proc",
    "/host/sys": "/sys",
    "/host/root/run/udev/data": "/run/udev/data",
    "/host/root": "/",
    "/host": "/",
}


@dataclass
class Command:
    origin: str
    kind: str  # node, postgres or redis
    argv: list[str]  # the flags, without the executable
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # deployed path -> content


KINDS = {executable: kind for kind, executable in EXECUTABLES.items()}


def image_kind(image: str) -> str:
    """exporters/redis-exporter:0.1.0 -> redis (the image's entrypoint is that exporter)."""
    match = re.fullmatch(r"exporters/(node|postgres|redis)-exporter:[\w.-]+", image)
    assert match, f"not one of our images: {image}"
    return match.group(1)


def systemd_commands() -> list[Command]:
    commands = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        kind = unit.stem.removeprefix("exporters-")
        examples = {"node": "exporters-node.default.example", "postgres": "postgres.env.example",
                    "redis": "redis.env.example"}
        env = {}
        for line in (DEPLOY / "systemd" / examples[kind]).read_text().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key] = value
        executable, *words = shlex.split(parse_unit(unit)["Service"]["ExecStart"][0])
        name = Path(executable).name
        if name == "exporters":
            name = EXECUTABLES[words.pop(0)]
        argv = []
        for word in words:
            if word.startswith("$"):
                argv.extend(shlex.split(env.get(word[1:], "")))
            else:
                argv.append(word)
        commands.append(Command(f"systemd/{unit.name}", KINDS[name], argv, env))
    return commands


def compose_commands() -> list[Command]:
    compose = yaml.safe_load((DEPLOY / "compose" / "docker-compose.yml").read_text())
    commands = []
    for name, service in compose["services"].items():
        if "build" in service:
            env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
            commands.append(Command(f"compose/{name}", image_kind(service["image"]), list(service["command"]), env))
    return commands


def kubernetes_commands() -> list[Command]:
    commands = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in docs if d["kind"] == "Secret"}
        for doc in docs:
            if doc["kind"] not in {"Deployment", "DaemonSet", "StatefulSet"}:
                continue
            pod = doc["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for container in pod["containers"]:
                if not container["image"].startswith("exporters/"):
                    continue
                env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
                files = {}
                for mount in container.get("volumeMounts", []):
                    secret = volumes[mount["name"]].get("secret")
                    if secret:
                        for filename, content in secrets[secret["secretName"]].items():
                            files[f"{mount['mountPath']}/{filename}"] = content
                commands.append(Command(f"kubernetes/{path.name}:{container['name']}",
                                        image_kind(container["image"]), list(container["args"]), env, files))
    return commands


def check_multi_target(kind: str, port: int, request: pytest.FixtureRequest) -> None:
    """The endpoint the Probe objects use answers for a target given in the URL."""
    if kind == "postgres":
        dsn = urllib.parse.urlsplit(request.getfixturevalue("postgres_dsn"))
        query = {"target": f"{dsn.hostname}:{dsn.port or 5432}", "auth_module": "monitoring"}
        path, expected = "/probe", re.compile(r"^pg_up [01]$", re.MULTILINE)
    else:
        query = {"target": request.getfixturevalue("redis_url")}
        path, expected = "/scrape", re.compile(r"^redis_up 1$", re.MULTILINE)
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read().decode()
    assert expected.search(body), body[:2000]


ALL = systemd_commands() + compose_commands() + kubernetes_commands()


def test_every_deployment_has_commands() -> None:
    origins = {c.origin.split("/")[0] for c in ALL}
    assert origins == {"systemd", "compose", "kubernetes"}
    assert {c.kind for c in ALL} == {"node", "postgres", "redis"}
    assert len(ALL) == 3 + 3 + 5


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ALL, ids=lambda c: c.origin)
def test_command_starts_and_serves(command: Command, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    kind = command.kind
    env = clean_env()
    # data sources: the deployed ones point at hosts that exist only there
    if kind == "postgres" and (set(command.env) & {"DATA_SOURCE_NAME", "DATA_SOURCE_URI"}):
        env["DATA_SOURCE_NAME"] = request.getfixturevalue("postgres_dsn")
    if kind == "redis" and "REDIS_ADDR" in command.env:
        env["REDIS_ADDR"] = request.getfixturevalue("redis_url")
    paths = dict(PATHS)
    for deployed, content in command.files.items():
        written = tmp_path / Path(deployed).name
        written.write_text(content)
        paths[deployed] = str(written)
    port = free_port()
    argv = []
    for arg in command.argv:
        arg = re.sub(r"^(-{1,2}web\.listen-address=):\d+$", rf"\g<1>127.0.0.1:{port}", arg)
        # the deployed fleet exists only there: allow the local server in its place
        arg = re.sub(r"^(--probe\.allowed-targets=).*$", r"\g<1>127.0.0.1", arg)
        for deployed, local in paths.items():
            arg = re.sub(rf"=({re.escape(deployed)})(?=$|/)", "=" + local, arg)
        argv.append(arg)
    assert any(f"127.0.0.1:{port}" in a for a in argv), f"{command.origin}: no listen address in {argv}"
    with serving([*exporter_argv(kind), *argv], env, port, REPO, tmp_path / "exporter.log", kind):
        if "multi-target" in command.origin:
            check_multi_target(kind, port, request)
