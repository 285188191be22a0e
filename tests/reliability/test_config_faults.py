"""Bad configuration: refused at start with exit code 1 and a located message; on SIGHUP the old
configuration stays in force and the load-error metric says so."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.reliability.conftest import PrivatePostgres, PrivateRedis, Scrape, record, require_exporter, scrape
from tests.reliability.launch import launch, run_to_exit

pytestmark = pytest.mark.timeout(60)

GOOD_QUERIES = """\
rel_first:
  query: "SELECT 1 AS one"
  metrics:
    - one:
        usage: "GAUGE"
        description: "First version of the file."
"""
SECOND_QUERIES = GOOD_QUERIES.replace("rel_first", "rel_second")
MALFORMED_QUERIES = """\
rel_broken:
  query: "SELECT 1 AS one"
  metrics:
    - one:
        usage: "GAUGE"
      description: [unclosed
"""
COLLIDING_QUERIES = """\
rel_a:
  query: "SELECT 1 AS b_c"
  metrics:
    - b_c:
        usage: "GAUGE"
        description: "rel_a_b_c"
rel_a_b:
  query: "SELECT 1 AS c"
  metrics:
    - c:
        usage: "GAUGE"
        description: "rel_a_b_c again"
"""


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "no message on stderr"
    assert "Traceback" not in stderr
    return lines[-1]


@pytest.mark.parametrize(("text", "expected"), [
    (MALFORMED_QUERIES, "invalid YAML"),
    (COLLIDING_QUERIES, "rel_a_b_c"),
    ("rel_x:\n  query: 'SELECT 1'\n  metrics:\n    - v:\n        usage: WRONG\n        description: d\n", ":5"),
])
def test_bad_queries_file_reported_by_check_mode(tmp_path: Path, text: str, expected: str) -> None:
    """The exporter serves what the Go binary serves (tests/postgres/test_pg_cli.py); strictness
    lives in --check-queries, which names file:line and exits 1."""
    require_exporter("postgres")
    path = tmp_path / "queries.yaml"
    path.write_text(text)
    began = time.monotonic()
    result = run_to_exit("postgres", ["--check-queries", str(path)], env={"DATA_SOURCE_NAME": ""})
    assert result.returncode == 1
    message = next(line for line in result.stderr.splitlines() if expected in line)
    assert "Traceback" not in result.stderr
    assert re.search(re.escape(str(path)) + r":\d+: ", message), "the message must name file:line"
    record(f"queries file checked: {expected}", exit_code=result.returncode, seconds=time.monotonic() - began,
           message=message)


BAD_WEB_CONFIGS = {
    "unknown key": ("tls_server_config:\n  cert_file: a\n  key_file: b\n  bogus: 1\n", "bogus"),
    "not bcrypt": ("basic_auth_users:\n  prom: plaintext-password\n", "not a bcrypt hash"),
    "missing cert": ("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n",
                     "certificate"),
    "bad yaml": ("basic_auth_users: [\n", "invalid YAML"),
}


@pytest.mark.parametrize("kind", ["node", "postgres", "redis"])
@pytest.mark.parametrize("case", sorted(BAD_WEB_CONFIGS))
def test_bad_web_config_refused_at_start(tmp_path: Path, kind: str, case: str) -> None:
    require_exporter(kind)
    text, expected = BAD_WEB_CONFIGS[case]
    path = tmp_path / "web.yml"
    path.write_text(text)
    flag = "-web.config.file" if kind == "redis" else "--web.config.file"
    args = [flag, str(path)]
    if kind == "postgres":
        args += ["--config.file", str(tmp_path / "no.yml")]
    result = run_to_exit(kind, args, env={"DATA_SOURCE_NAME": "postgresql://u@127.0.0.1:1/db?sslmode=disable"})
    assert result.returncode == 1
    message = _one_line_error(result.stderr)
    assert str(path) in message
    assert expected in message
    if case == "not bcrypt":
        assert "plaintext-password" not in result.stderr + result.stdout


def test_missing_password_files_refused_at_start(tmp_path: Path) -> None:
    missing_file = tmp_path / "absent-password"
    require_exporter("redis")
    redis_result = run_to_exit("redis", ["-redis.password-file", str(missing_file)])
    assert redis_result.returncode == 1
    assert str(missing_file) in _one_line_error(redis_result.stderr)
    require_exporter("postgres")
    pg_result = run_to_exit("postgres", ["--config.file", str(tmp_path / "no.yml")], env={
        "DATA_SOURCE_NAME": "", "DATA_SOURCE_URI": "127.0.0.1:1/db?sslmode=disable",
        "DATA_SOURCE_USER": "u", "DATA_SOURCE_PASS_FILE": str(missing_file),
    })
    assert pg_result.returncode == 1
    assert str(missing_file) in _one_line_error(pg_result.stderr)
    record("password file missing", redis_exit=redis_result.returncode, postgres_exit=pg_result.returncode)


def _wait_for(url: str, check: Callable[[Scrape], bool], timeout: float = 10) -> Scrape:
    """Scrape until ``check`` holds (a SIGHUP reload runs in the background) or time is up."""
    end = time.monotonic() + timeout
    while True:
        result = scrape(url)
        if check(result) or time.monotonic() > end:
            return result
        time.sleep(0.1)


def test_sighup_with_bad_queries_keeps_the_old_file(tmp_path: Path, postgres_up: PrivatePostgres) -> None:
    require_exporter("postgres")
    path = tmp_path / "queries.yaml"
    path.write_text(GOOD_QUERIES)
    exporter = launch("postgres", ["--extend.query-path", str(path), "--config.file", str(tmp_path / "no.yml")],
                      tmp_path, env={"DATA_SOURCE_NAME": postgres_up.dsn()})
    url = exporter.url + "/metrics"

    def load_error(result: Scrape) -> float | None:
        return result.value("pg_exporter_user_queries_load_error", filename=str(path))

    try:
        first = scrape(url)
        assert first.value("rel_first_one") == 1
        assert load_error(first) == 0
        path.write_text(MALFORMED_QUERIES)
        exporter.proc.send_signal(signal.SIGHUP)
        broken = _wait_for(url, lambda r: load_error(r) == 1)
        path.write_text(SECOND_QUERIES)
        exporter.proc.send_signal(signal.SIGHUP)
        fixed = _wait_for(url, lambda r: r.value("rel_second_one") is not None)
    finally:
        exporter.stop()
    assert load_error(broken) == 1
    assert broken.value("rel_first_one") == 1, "the old queries must stay in force after a failed reload"
    assert broken.value("pg_up") == 1
    bad_hash = hashlib.sha256(MALFORMED_QUERIES.encode()).hexdigest()
    assert broken.value("pg_exporter_user_queries_load_error", hashsum=bad_hash) == 1
    assert load_error(fixed) == 0
    assert fixed.value("rel_second_one") == 1
    assert fixed.value("rel_first_one") is None
    assert exporter.proc.returncode == 0
    assert "failed to reload" in exporter.log()
    record("postgres SIGHUP with a bad queries file", load_error=1, old_queries_kept=1)


def test_redis_password_file_reload_failure_keeps_old_passwords(tmp_path: Path, private_redis: PrivateRedis) -> None:
    require_exporter("redis")
    password = "Redis-File-Secret-9931"
    client = private_redis.client()
    client.config_set("requirepass", password)
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({private_redis.addr: password}))
    exporter = launch("redis", ["-redis.addr", private_redis.addr, "-redis.password-file", str(passwords)],
                      tmp_path)
    try:
        before = scrape(exporter.url + "/metrics")
        passwords.write_text("{not json")
        exporter.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        after_bad = scrape(exporter.url + "/metrics")
        reload = requests.get(exporter.url + "/-/reload", timeout=5)
    finally:
        exporter.stop()
    assert before.value("redis_up") == 1
    assert after_bad.value("redis_up") == 1, "a failed password file reload must keep the old passwords"
    assert reload.status_code >= 400
    assert password not in exporter.log()
    assert password not in reload.text
    record("redis bad password file on SIGHUP / -/reload", redis_up=1, reload_status=reload.status_code)
