"""The README's promises that tests can check directly."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_readme_opens_with_the_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) >= 2
    run_cmd, test_cmd = commands[0], commands[1]
    assert "pip install" in run_cmd and run_cmd.rstrip().endswith("exporters node")
    assert "pytest" in test_cmd
    # nothing but the title and one sentence come before them
    head = (REPO / "README.md").read_text().split("```sh")[0]
    assert head.count("\n## ") == 0


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_cmd = readme_commands()[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert test_cmd in ci.splitlines()
    assert "EXPORTERS_REQUIRE_SERVICES=1" in ci


@pytest.mark.timeout(180)
def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "exporters", "tests", "bench"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_mypy_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(60)
def test_readme_run_command_serves_node_exporter_on_9100() -> None:
    import shutil
    import signal
    import socket
    from pathlib import Path

    import requests

    from tests.conftest import wait_http

    script = Path(sys.executable).parent / "exporters"
    command = str(script) if script.exists() else shutil.which("exporters")
    assert command, "the exporters console script is not installed"
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 9100)) == 0:
            pytest.fail("port 9100 is already in use; the README's run command needs it")
    proc = subprocess.Popen([command, "node"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http("http://127.0.0.1:9100/", proc=proc)
        body = requests.get("http://127.0.0.1:9100/metrics", timeout=20).text
        assert "node_exporter_build_info" in body
        assert 'node_scrape_collector_success{collector="' in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
