"""``--scrape.processes N``: /scrape collected and rendered in worker processes.

Real exporter processes against the real Redis at 127.0.0.1:6379; worker processes are
found as the exporter's children in procfs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, missing

REPO = Path(__file__).resolve().parents[2]
TARGET = "127.0.0.1:6379"


def redis_reachable() -> None:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        missing("Redis at 127.0.0.1:6379")


def children(pid: int) -> list[int]:
    out: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Running:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporters", "redis", f"--web.listen-address=127.0.0.1:{self.port}",
             "--redis.addr=", *args],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                requests.get(self.url + "/health", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("exporter did not start")

    def scrape(self, target: str = TARGET) -> requests.Response:
        return requests.get(self.url + "/scrape", params={"target": target}, timeout=30)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


@pytest.fixture
def pooled() -> Iterator[Running]:
    redis_reachable()
    running = Running("--scrape.processes", "2")
    yield running
    running.stop()


def series(text: str) -> set[tuple[str, frozenset[str]]]:
    """(metric name, label names) of every sample."""
    out = set()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition("{")
        pairs = rest.rsplit("}", 1)[0].split(",") if rest else []
        labels = frozenset(p.split("=", 1)[0] for p in pairs if "=" in p)
        out.add((name.split(" ")[0], labels))
    return out


def stable(text: str) -> set[tuple[str, frozenset[str]]]:
    # the client list, latency and commandstats grow with what the other tests do meanwhile
    volatile = ("redis_commands", "redis_latency", "redis_connected_clients_details", "redis_errors_total",
                "redis_slowlog", "redis_db_", "redis_key", "redis_last_slow")
    return {s for s in series(text) if not s[0].startswith(volatile)}


@pytest.mark.timeout(90)
def test_pooled_scrape_answers_what_the_in_process_one_does(pooled: Running) -> None:
    in_process = Running()
    try:
        ours = in_process.scrape()
    finally:
        in_process.stop()
    answer = pooled.scrape()
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert "redis_up 1" in answer.text
    assert stable(answer.text) == stable(ours.text)
    assert len(children(pooled.proc.pid)) >= 1


@pytest.mark.timeout(90)
def test_metrics_and_refused_requests_start_no_worker(pooled: Running) -> None:
    assert requests.get(pooled.url + "/metrics", timeout=10).status_code == 200
    assert requests.get(pooled.url + "/scrape", timeout=10).status_code == 400  # no target: refused here
    assert children(pooled.proc.pid) == []
    metrics = requests.get(pooled.url + "/metrics", timeout=10).text
    assert "redis_target_scrape_request_errors_total 1" in metrics  # counted in the main process


@pytest.mark.timeout(90)
def test_a_killed_worker_costs_one_request(pooled: Running) -> None:
    assert pooled.scrape().status_code == 200
    workers = children(pooled.proc.pid)
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    assert pooled.scrape().status_code == 500
    answers = [pooled.scrape().status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    fresh = children(pooled.proc.pid)
    assert fresh and not set(fresh) & set(workers)
    err = pooled.stop()
    assert "exited with -9; it is replaced" in err


@pytest.mark.timeout(90)
def test_a_hung_worker_is_replaced_after_the_deadline() -> None:
    redis_reachable()
    running = Running("--scrape.processes", "1", "--scrape.timeout-offset", "0")
    try:
        assert running.scrape().status_code == 200
        (worker,) = children(running.proc.pid)
        os.kill(worker, signal.SIGSTOP)
        hung = requests.get(running.url + "/scrape", params={"target": TARGET}, timeout=30,
                            headers={"X-Prometheus-Scrape-Timeout-Seconds": "0.5"})
        assert hung.status_code == 500
        assert running.scrape().status_code == 200
        assert worker not in children(running.proc.pid)
        assert not alive(worker)
    finally:
        err = running.stop()
    assert "did not answer in time" in err


@pytest.mark.timeout(90)
def test_password_file_reload_reaches_pooled_scrapes(tmp_path: Path) -> None:
    redis_reachable()
    passwords = tmp_path / "passwords.json"
    passwords.write_text("{}")
    running = Running("--scrape.processes", "2", f"--redis.password-file={passwords}")
    try:
        assert "redis_up 1" in running.scrape().text
        # the test server has no password: one sent makes AUTH fail, the scrape says up 0
        passwords.write_text(json.dumps({f"redis://{TARGET}": "not-the-password"}))
        assert requests.post(running.url + "/-/reload", timeout=10).status_code == 200
        assert "redis_up 0" in running.scrape().text
        passwords.write_text("{}")
        assert requests.post(running.url + "/-/reload", timeout=10).status_code == 200
        assert "redis_up 1" in running.scrape().text
    finally:
        running.stop()


@pytest.mark.timeout(90)
def test_sigterm_leaves_no_worker_behind(pooled: Running) -> None:
    for _ in range(4):
        assert pooled.scrape().status_code == 200
    workers = children(pooled.proc.pid)
    assert workers
    pooled.stop()
    assert pooled.proc.returncode == 0
    end = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < end:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers)


@pytest.mark.timeout(60)
def test_processes_flag_is_bounded_and_redis_only() -> None:
    bad = subprocess.run([sys.executable, "-m", "exporters", "redis", "--scrape.processes", "-1"],
                         capture_output=True, text=True, timeout=30, cwd=REPO)
    assert bad.returncode == 1 and "--scrape.processes must be between 0 and 64" in bad.stderr
    for other in ("postgres", "node"):
        refused = subprocess.run([sys.executable, "-m", "exporters", other, "--scrape.processes", "2"],
                                 capture_output=True, text=True, timeout=30, cwd=REPO)
        assert refused.returncode == 2 and "unrecognized arguments: --scrape.processes" in refused.stderr


@pytest.mark.timeout(60)
def test_start_does_not_import_the_pool() -> None:
    code = ("import sys; from exporters.redis import main; from exporters.core.app import configure; "
            "argv = ['--scrape.processes', '2', '--web.listen-address=127.0.0.1:0']; "
            "settings = main.RedisSettings.from_args(main.parse_args(argv), argv); "
            "runtime = configure('redis', settings.web, settings.log); main.build_app(settings, runtime); "
            "runtime.close(); print(sorted(m for m in "
            "('multiprocessing', 'concurrent.futures', 'exporters.core.procpool') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.timeout(60)
def test_workers_log_to_the_same_stderr_in_the_same_format() -> None:
    redis_reachable()
    running = Running("--scrape.processes", "1", "--log-format", "json")
    try:
        assert "redis_up 0" in running.scrape("127.0.0.1:1").text  # a closed port: the worker logs why
    finally:
        err = running.stop()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == len(err.splitlines())
    failed = [line for line in lines if line["msg"] == "scrape failed"]
    assert failed and failed[0]["target"] == "redis://127.0.0.1:1" and failed[0]["level"] == "error"
    assert lines[-1]["msg"] == "Server shut down gracefully"
