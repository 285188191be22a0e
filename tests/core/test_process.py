"""Process lifecycle: flags, bad configuration, listen addresses, signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO, free_port, wait_http
from tests.core.conftest import App, SleepingCollector, StaticCollector

AppFactory = Callable[..., App]


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_version_of_every_subcommand() -> None:
    for kind, upstream in (("node", "node_exporter"),):
        result = run("exporters", kind, "--version")
        assert result.returncode == 0
        assert result.stdout.startswith(f"{upstream}, version ")
    top = run("exporters", "--version")
    assert top.returncode == 0 and top.stdout.startswith("exporters ")


@pytest.mark.parametrize(
    ("script", "argv", "expect"),
    [
        ("node_exporter", ["--version"], "node_exporter, version "),
        ("redis_exporter", ["-version"], "redis_exporter, version "),
        ("postgres_exporter", ["--help"], "usage: postgres_exporter"),
        ("exporters", ["node", "--version"], "node_exporter, version "),
    ],
)
def test_console_scripts_named_as_the_upstream_binaries(script: str, argv: list[str], expect: str) -> None:
    """Systemd units and Ansible roles call the upstream binary by name."""
    path = Path(sys.executable).parent / script
    result = subprocess.run([str(path), *argv], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(expect)


def test_unknown_flag_is_a_one_line_error() -> None:
    assert_one_line_error(run("exporters.node", "--no-such-flag"), "--no-such-flag")


def test_bad_flag_value_is_a_one_line_error() -> None:
    assert_one_line_error(run("exporters.node", "--web.max-requests", "many"), "--web.max-requests")
    assert_one_line_error(run("exporters.node", "--log.level", "loud"), "--log.level")
    assert_one_line_error(run("exporters.node", "--web.listen-address", "nocolon"), "nocolon")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("tls_server_config:\n  cert_fil: x\n", "unknown key 'cert_fil'"),
        ("basic_auth_users:\n  prom: notahash\n", "not a bcrypt hash"),
        ("tls_server_config: [\n", "invalid YAML"),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "failed to load certificate"),
        ("tls_server_config:\n  cert_file: missing.crt\n", "missing one of key or key_file"),
        ("tls_server_config:\n  min_version: TLS09\n  cert_file: a\n  key_file: b\n", "unknown TLS version"),
        ("http_server_config:\n  headers:\n    Content-Type: text/html\n", "can not be configured"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "invalid value for X-Frame-Options"),
        ("nonsense_key: 1\n", "unknown key 'nonsense_key'"),
    ],
)
def test_bad_web_config_refuses_to_start(tmp_path: Path, content: str, problem: str) -> None:
    config = tmp_path / "web-config.yml"
    config.write_text(content)
    result = run("exporters.node", "--web.config.file", str(config), "--web.listen-address",
                 f"127.0.0.1:{free_port()}")
    assert_one_line_error(result, str(config), problem)
    assert result.returncode == 1


def test_unreadable_web_config(tmp_path: Path) -> None:
    result = run("exporters.node", "--web.config.file", str(tmp_path / "absent.yml"))
    assert_one_line_error(result, "absent.yml", "cannot read")


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("exporters.node", "--web.listen-address", f"127.0.0.1:{port}", "--collector.disable-defaults")
    assert_one_line_error(result, f"127.0.0.1:{port}")


@pytest.mark.timeout(60)
def test_sigterm_exits_zero_and_listens_on_every_address(tmp_path: Path) -> None:
    v4 = free_port()
    v6 = free_port()
    any_port = free_port()
    log = (tmp_path / "node.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporters.node", "--collector.disable-defaults",
         "--web.listen-address", f"127.0.0.1:{v4}", "--web.listen-address", f"[::1]:{v6}",
         "--web.listen-address", f":{any_port}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
    )
    try:
        wait_http(f"http://127.0.0.1:{v4}/", proc=proc)
        assert requests.get(f"http://[::1]:{v6}/metrics", timeout=5).status_code == 200
        # ":port" means every interface, IPv4 and IPv6
        assert requests.get(f"http://127.0.0.1:{any_port}/metrics", timeout=5).status_code == 200
        assert requests.get(f"http://[::1]:{any_port}/metrics", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{v4}/", timeout=2)


@pytest.mark.timeout(60)
def test_shutdown_lets_in_flight_scrape_finish(app_factory: AppFactory) -> None:
    app = app_factory({"slow": SleepingCollector(1.0), "fast": StaticCollector("fast")})
    result: list[requests.Response] = []
    client = threading.Thread(target=lambda: result.append(requests.get(app.url + "/metrics", timeout=10)))
    client.start()
    time.sleep(0.3)
    app.stop.set()
    client.join(10)
    app.thread.join(15)
    assert not app.thread.is_alive()
    assert result and result[0].status_code == 200
    assert "test_sleepy_value 1" in result[0].text
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(app.url + "/", timeout=2)


@pytest.mark.timeout(60)
def test_systemd_socket_activation(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    # the child gets the socket as fd 3, as systemd passes it
    script = (
        "import os, sys, runpy; os.dup2(int(sys.argv[1]), 3); os.environ['LISTEN_PID'] = str(os.getpid()); "
        "sys.argv = ['node', '--web.systemd-socket', '--collector.disable-defaults']; "
        "runpy.run_module('exporters.node', run_name='__main__')"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(listener.fileno())], pass_fds=(listener.fileno(),),
                            env={**__import__("os").environ, "LISTEN_FDS": "1"}, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener.close()
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=proc)
        assert "node_exporter_build_info" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_systemd_socket_without_sockets_is_an_error() -> None:
    result = run("exporters.node", "--web.systemd-socket", "--collector.disable-defaults")
    assert_one_line_error(result, "no socket activation file descriptors")


def test_local_runs_say_how_many_integration_items_were_skipped(tmp_path: Path) -> None:
    probe = REPO / "tests" / "core" / f"test_zz_skip_probe_{os.getpid()}.py"
    probe.write_text("from tests.conftest import missing\n\n\ndef test_needs_a_service() -> None:\n"
                     "    missing('PostgreSQL at 127.0.0.1:5432')\n")
    try:
        env = {k: v for k, v in os.environ.items() if k != "EXPORTERS_REQUIRE_SERVICES"}
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
                                capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    finally:
        probe.unlink()
    assert "1 integration items skipped: service or reference binary missing" in result.stdout, result.stdout
    assert "     1  PostgreSQL at 127.0.0.1:5432" in result.stdout
    assert "EXPORTERS_REQUIRE_SERVICES=1" in result.stdout
