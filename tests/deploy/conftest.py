"""Helpers for the deployment tests: where deploy/ is, and the validators they run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, free_port, missing, wait_http

DEPLOY = REPO / "deploy"


def tool(name: str) -> str:
    """Path of a validator: on PATH or beside this Python (a venv's bin/); skip or fail if absent."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        missing(f"tool {name}")
    assert found is not None
    return found


def run(argv: Sequence[str], cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a validator; the assertion message carries its whole output."""
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Stop a process started by a test: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


# The executables the upstream packages and images install; ours are console scripts of the same name.
EXECUTABLES = {"node": "node_exporter", "postgres": "postgres_exporter", "redis": "redis_exporter"}


def exporter_argv(kind: str) -> list[str]:
    """How this installation runs an exporter under its upstream executable name (a console script)."""
    script = Path(sys.executable).parent / EXECUTABLES[kind]
    assert script.exists(), f"{script} is not installed: pip install -e ."
    return [str(script)]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the exporters' data sources (a test names its own), plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATA_SOURCE_", "REDIS_", "PG_EXPORTER_", "NODE_EXPORTER_"))}
    env.update(extra)
    return env


@contextmanager
def serving(argv: Sequence[str], env: dict[str, str], port: int, workdir: Path, log: Path, kind: str) -> Iterator[str]:
    """Run ``argv``: it must serve /metrics on ``port`` with upstream's build_info (the body is
    yielded) and stop without a traceback."""
    with log.open("wb") as out:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/metrics", timeout=20, proc=proc)
        except (RuntimeError, TimeoutError) as err:
            raise AssertionError(f"{list(argv)} did not serve ({err}):\n{log.read_text(errors='replace')}") from None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            body: str = response.read().decode()
        assert f"{EXECUTABLES[kind]}_build_info{{" in body, body[:2000]
        yield body
    finally:
        terminate(proc)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")


def wait_for(what: str, check: Callable[[], Any], timeout: float = 45.0) -> Any:
    """Poll ``check`` until it returns something truthy, or fail saying what was awaited."""
    end = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last result: {last!r}")


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@contextmanager
def running_prometheus(binary: str, work_dir: Path, config: dict[str, Any]) -> Iterator[str]:
    """Prometheus ``binary`` with ``config`` and its storage in ``work_dir``, on a free loopback port,
    once ready; yields its URL."""
    (work_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (work_dir / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={work_dir / 'prometheus.yml'}", f"--storage.tsdb.path={work_dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30, proc=proc)
        # /-/ready answers 503 while the storage opens; wait_http accepts any status
        wait_for("Prometheus ready", lambda: http_status(f"http://127.0.0.1:{port}/-/ready") == 200, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(proc, 15)
