"""Start an exporter under a wrapper command (reduced capabilities, another environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import REPO, RunningExporter, free_port, wait_http


def launch(
    kind: str,
    args: Sequence[str],
    tmp_path: Path,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
    wait: bool = True,
    port: int | None = None,
    replace_env: bool = False,
) -> RunningExporter:
    """``python -m exporters.<kind>`` on a free port, behind ``prefix`` (e.g. ``setpriv ... --``)."""
    port = port or free_port()
    log_path = tmp_path / f"{kind}-{port}.log"
    full_env = {} if replace_env else dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PATH", os.environ.get("PATH", "/usr/bin:/bin"))
    flag = "-web.listen-address" if kind == "redis" else "--web.listen-address"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", f"exporters.{kind}", flag, f"127.0.0.1:{port}", *args],
            stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=REPO,
        )
    running = RunningExporter(proc, port, log_path)
    if wait:
        try:
            wait_http(f"http://127.0.0.1:{port}/", proc=proc, timeout=30)
        except Exception:  # noqa: BLE001 - re-raised with the exporter's log
            running.stop()
            raise RuntimeError(f"exporter did not start: {running.log()}") from None
    return running


def run_to_exit(kind: str, args: Sequence[str], env: dict[str, str] | None = None,
                timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run an exporter expected to refuse its configuration and exit; capture everything."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    flag = "-web.listen-address" if kind == "redis" else "--web.listen-address"
    return subprocess.run(
        [sys.executable, "-m", f"exporters.{kind}", flag, f"127.0.0.1:{free_port()}", *args],
        capture_output=True, text=True, env=full_env, cwd=REPO, timeout=timeout,
    )
