"""The upstream Helm charts' container command lines, with only the image changed, start ours.

helm_charts.yaml holds the args and env each chart renders (default values and common options).
Each case runs under the entrypoint of our image that replaces the chart's (Dockerfile target),
as Kubernetes would: $(VAR) expanded from the env, the files the chart mounts written out. Only
what cannot exist here is swapped: the host mounts (/host/proc -> /proc ...), the mounted files'
paths (a temporary directory), the listen address (a free port on 127.0.0.1, in the same form:
`[$(HOST_IP)]:9100` stays bracketed) and the servers (the local PostgreSQL as role root, the
local Redis). It must serve /metrics with upstream's build_info and answer the charts' probe
path `/`; where the chart points at a reachable server, the target is up.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import free_port
from tests.deploy.conftest import clean_env, exporter_argv, serving
from tests.deploy.test_container import UPSTREAM

CHARTS: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "helm_charts.yaml").read_text())
HOST_PATHS = {"/host/proc": "/proc", "/host/sys": "/sys", "/host/root": "/"}


@dataclass
class Case:
    chart: str
    name: str
    image: str
    args: list[str]
    env: dict[str, str]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return UPSTREAM[self.image].kind


def cases() -> list[Case]:
    found = []
    for chart, spec in CHARTS.items():
        for name, case in spec["cases"].items():
            found.append(Case(chart, name, spec["image"], list(case["args"]),
                              {k: str(v) for k, v in case.get("env", {}).items()}, dict(case.get("files", {}))))
    return found


def expand(arg: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in args; an unknown $(VAR) stays as written."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), arg)


def local_servers(text: str, postgres_dsn: str, redis_url: str) -> str:
    """The charts' example servers and role -> this machine's."""
    dsn = urllib.parse.urlsplit(postgres_dsn)
    text = text.replace("postgres.example:5432", f"{dsn.hostname}:{dsn.port or 5432}")
    text = re.sub(r"\bmonitoring\b", dsn.username or "root", text)
    return text.replace("redis://myredis:6379", redis_url)


def test_charts_cover_each_image() -> None:
    assert {spec["image"] for spec in CHARTS.values()} == set(UPSTREAM)
    for spec in CHARTS.values():
        assert "defaults" in spec["cases"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", cases(), ids=lambda c: f"{c.chart}:{c.name}")
def test_chart_command_line_serves(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    postgres_dsn = request.getfixturevalue("postgres_dsn") if case.kind == "postgres" else ""
    redis_url = request.getfixturevalue("redis_url") if case.kind == "redis" else ""
    paths = dict(HOST_PATHS)
    # a mounted file is written out; an unmounted one (the chart's config file by default) is absent
    paths["/etc/postgres_exporter.yml"] = str(tmp_path / "absent" / "postgres_exporter.yml")
    paths["/run/prometheus"] = str(tmp_path / "textfile")
    (tmp_path / "textfile").mkdir()
    for index, (mounted, content) in enumerate(case.files.items()):
        written = tmp_path / f"mount{index}" / Path(mounted).name
        written.parent.mkdir()
        written.write_text(local_servers(content, postgres_dsn, redis_url))
        paths[mounted] = str(written)

    def local(value: str) -> str:
        for deployed, here in sorted(paths.items(), key=lambda item: -len(item[0])):
            value = re.sub(rf"(^|=){re.escape(deployed)}(?=$|/)", lambda m, h=here: m.group(1) + h, value)
        return local_servers(value, postgres_dsn, redis_url)

    env = {name: local(value) for name, value in case.env.items()}
    # the pod's address is not this machine's: the exporter listens on loopback, in the same form
    if "HOST_IP" in env:
        env["HOST_IP"] = "127.0.0.1"
    port = free_port()
    args = []
    for arg in case.args:
        arg = local(expand(arg, env))
        arg = re.sub(r"^(-{1,2}web\.listen-address=)(\[127\.0\.0\.1\])?:\d+$",
                     lambda m: f"{m.group(1)}{m.group(2) or '127.0.0.1'}:{port}", arg)
        args.append(arg)
    if not any(re.match(r"-{1,2}web\.listen-address=", a) for a in args):
        # the chart leaves the listen address at the image's default (:9121): here a free port stands in
        args.append(f"--web.listen-address=127.0.0.1:{port}")
    assert any(a.endswith(f"127.0.0.1:{port}") or a.endswith(f"[127.0.0.1]:{port}") for a in args), args
    with serving([*exporter_argv(case.kind), *args], clean_env(**env), port, Path("/"),
                 tmp_path / "exporter.log", case.kind) as body:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
        up = {"postgres": "pg_up", "redis": "redis_up"}.get(case.kind)
        reachable = "postgres.example" in str(case.env) + str(case.files) or "myredis" in str(case.env)
        if up and reachable and "PASSWORD" not in str(case.env):
            assert re.search(rf"^{up} 1(\.0)?$", body, re.MULTILINE), body[:3000]
