"""A real Prometheus (2.53.3, Debian 13's) stores the same metric types for ours as for the Go binaries.

Prometheus scrapes each of our exporters and the Go binary it replaces (Debian 13's node_exporter
1.9.0, postgres_exporter 0.17.1, redis_exporter 1.69.0) side by side, at default settings against
the same servers, with the Accept header it really sends (OpenMetrics preferred). What it stores
per target (/api/v1/targets/metadata) must agree: every metric both expose has the same type,
and no counter of Go's reaches Prometheus from ours under another name (an OpenMetrics family
name without _total). Where the target version's type differs from the newer binary's, ours
follows the target (NEWER_TYPES says where, from upstream's source).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningExporter, free_port, reference_binary, start_exporter, wait_http
from tests.deploy.conftest import running_prometheus, wait_for

KINDS = ("node", "postgres", "redis")

# Types the target version and the newer Go binary disagree on: ours follows the target.
NEWER_TYPES: dict[str, str] = {
    "redis_expired_time_cap_reached_total": "1.58.0 maps INFO expired_time_cap_reached_count in metricMapGauges "
                                            "only; 1.69.0 also lists it in metricMapCounters",
}


def start_go(kind: str, env: dict[str, str], work_dir: Path) -> RunningExporter:
    port = free_port()
    flag = "-web.listen-address" if kind == "redis" else "--web.listen-address"
    log_path = work_dir / f"go-{kind}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([reference_binary(kind, "trixie"), f"{flag}=127.0.0.1:{port}"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    running = RunningExporter(proc, port, log_path)
    wait_http(f"{running.url}/metrics", proc=proc)
    return running


def metadata(prometheus: str, job: str) -> dict[str, str]:
    query = urllib.parse.urlencode({"match_target": f'{{job="{job}"}}'})
    with urllib.request.urlopen(f"{prometheus}/api/v1/targets/metadata?{query}", timeout=10) as response:
        data = json.load(response)["data"]
    return {entry["metric"]: entry["type"] for entry in data}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str, redis_url: str) -> Iterator[
        dict[str, tuple[dict[str, str], dict[str, str]]]]:
    """Per exporter: (Go's stored metadata, ours'), once Prometheus has scraped each target."""
    prometheus = reference_binary("prometheus", "trixie")
    work_dir = tmp_path_factory.mktemp("metadata")
    env = {"postgres": {"DATA_SOURCE_NAME": postgres_dsn}, "redis": {"REDIS_ADDR": redis_url}}
    started: list[RunningExporter] = []
    try:
        jobs = {}
        for kind in KINDS:
            go = start_go(kind, {**os.environ, **env.get(kind, {})}, work_dir)
            started.append(go)
            ours = start_exporter(kind, [], work_dir, env=env.get(kind, {}))
            started.append(ours)
            jobs[f"go-{kind}"] = go
            jobs[f"ours-{kind}"] = ours
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{e.port}"]}]}
                               for job, e in jobs.items()],
        }
        with running_prometheus(prometheus, work_dir, config) as url:
            found = {job: wait_for(f"metadata of {job}", lambda job=job: metadata(url, job), timeout=30)
                     for job in jobs}
            yield {kind: (found[f"go-{kind}"], found[f"ours-{kind}"]) for kind in KINDS}
    finally:
        for running in started:
            running.stop()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", KINDS)
def test_stored_types_are_the_go_binaries(stored: dict[str, tuple[dict[str, str], dict[str, str]]],
                                          kind: str) -> None:
    go, ours = stored[kind]
    common = set(go) & set(ours)
    assert len(common) >= 10, (sorted(go)[:20], sorted(ours)[:20])
    differ = {name: (go[name], ours[name]) for name in common if go[name] != ours[name] and name not in NEWER_TYPES}
    assert differ == {}, f"types Prometheus stores differently (Go, ours): {differ}"
    renamed = {name: ours[name.removesuffix("_total")] for name in set(go) - set(ours)
               if name.endswith("_total") and name.removesuffix("_total") in ours}
    assert renamed == {}, f"Go's counters stored under another name for ours: {renamed}"
