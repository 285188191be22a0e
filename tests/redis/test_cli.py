"""Flags and environment variables as redis_exporter spells them, and the HTTP endpoints."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporters.core.targets import TargetAllowlist
from exporters.redis.main import (
    FLAGS,
    PasswordMap,
    endpoint,
    normalize_argv,
    parse_args,
    scrape_options,
    target_key,
)
from exporters.redis.resp import parse_address
from tests.conftest import RunningExporter, free_port
from tests.redis.conftest import RedisServer


def _get(url: str, timeout: float = 20) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def _value(text: str, name: str, **labels: str) -> float | None:
    for (sample, sample_labels), number in _values(text).items():
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items()):
            return number
    return None


def test_defaults_match_upstream() -> None:
    args = parse_args([], env={})
    assert args.redis_addr == "redis://localhost:6379"
    assert args.namespace == "redis"
    assert args.check_keys_batch_size == 1000
    assert args.connection_timeout == "15s"
    assert args.set_client_name is True and args.redact_config_metrics is True
    assert args.is_cluster is False and args.include_config_metrics is False
    assert args.web_listen_address == [":9121"]
    assert args.web_telemetry_path == "/metrics"


@pytest.mark.parametrize(
    ("argv", "dest", "expected"),
    [
        (["-redis.addr", "redis://h:1"], "redis_addr", "redis://h:1"),
        (["--redis.addr=redis://h:2"], "redis_addr", "redis://h:2"),
        (["-redis.addr=redis://h:3"], "redis_addr", "redis://h:3"),
        (["-is-cluster"], "is_cluster", True),
        (["--is-cluster=true"], "is_cluster", True),
        (["-set-client-name=false"], "set_client_name", False),
        (["-redact-config-metrics=0"], "redact_config_metrics", False),
        (["-check-keys-batch-size", "50"], "check_keys_batch_size", 50),
        (["-namespace", "kv"], "namespace", "kv"),
        (["-web.telemetry-path", "/m"], "web_telemetry_path", "/m"),
        (["-web.listen-address", "127.0.0.1:1"], "web_listen_address", ["127.0.0.1:1"]),
        (["-connection-timeout", "2s"], "connection_timeout", "2s"),
        (["-debug"], "log_level", "debug"),
        (["-log-format", "json"], "log_format", "json"),
    ],
)
def test_flag_spellings(argv: list[str], dest: str, expected: object) -> None:
    assert getattr(parse_args(argv, env={}), dest) == expected


@pytest.mark.parametrize(
    ("env", "dest", "expected"),
    [
        ({"REDIS_ADDR": "redis://e:1"}, "redis_addr", "redis://e:1"),
        ({"REDIS_PASSWORD": "pw"}, "redis_password", "pw"),
        ({"REDIS_USER": "u"}, "redis_user", "u"),
        ({"REDIS_EXPORTER_CHECK_KEYS": "a*"}, "check_keys", "a*"),
        ({"REDIS_EXPORTER_IS_CLUSTER": "true"}, "is_cluster", True),
        ({"REDIS_EXPORTER_SET_CLIENT_NAME": "false"}, "set_client_name", False),
        ({"REDIS_EXPORTER_SET_CLIENT_NAME": "nonsense"}, "set_client_name", True),  # invalid: default
        ({"REDIS_EXPORTER_CHECK_KEYS_BATCH_SIZE": "7"}, "check_keys_batch_size", 7),
        ({"REDIS_EXPORTER_INCL_CONFIG_METRICS": "1"}, "include_config_metrics", True),
        ({"REDIS_EXPORTER_WEB_LISTEN_ADDRESS": "127.0.0.1:2"}, "web_listen_address", ["127.0.0.1:2"]),
        ({"REDIS_EXPORTER_WEB_TELEMETRY_PATH": "/x"}, "web_telemetry_path", "/x"),
    ],
)
def test_environment(env: dict[str, str], dest: str, expected: object) -> None:
    assert getattr(parse_args([], env=env), dest) == expected


def test_flag_beats_environment() -> None:
    assert parse_args(["-redis.addr", "redis://flag:1"], env={"REDIS_ADDR": "redis://env:1"}).redis_addr == \
        "redis://flag:1"


def test_every_upstream_flag_has_both_spellings() -> None:
    for flag in FLAGS:
        assert normalize_argv([f"-{flag.name}"]) == [f"--{flag.name}"]
        assert normalize_argv([f"--{flag.name}=x"]) == [f"--{flag.name}=x"]
    assert normalize_argv(["-h"]) == ["-h"]
    assert normalize_argv(["-web.systemd-socket", "-1", "--", "-a.b"]) == ["--web.systemd-socket", "-1", "--", "-a.b"]


def test_bad_configuration_is_refused(tmp_path: Path) -> None:
    from exporters.core.flags import ConfigError

    with pytest.raises(ConfigError, match="check-keys"):
        scrape_options(parse_args(["-check-keys", "a=b=c"], env={}))
    with pytest.raises(ConfigError, match="both be present"):
        scrape_options(parse_args(["-tls-client-cert-file", str(tmp_path / "c.pem")], env={}))
    with pytest.raises(ConfigError, match="script"):
        scrape_options(parse_args(["-script", str(tmp_path / "missing.lua")], env={}))
    with pytest.raises(ConfigError, match="timeout"):
        scrape_options(parse_args(["-connection-timeout", "soon"], env={}))


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("localhost:6379", "redis://127.0.0.1:6379", True),
        ("redis://localhost", "redis://127.0.0.1:6379/", True),
        ("redis://[::1]:7000", "localhost:7000", True),
        ("redis://LOCALHOST:7000", "redis://localhost:7000", True),
        ("redis://localhost:7000", "redis://localhost:7001", False),
        ("rediss://localhost:7000", "redis://localhost:7000", False),
        ("redis://10.0.0.1:7000", "redis://localhost:7000", False),
    ],
)
def test_target_key(a: str, b: str, same: bool) -> None:
    assert (target_key(a) == target_key(b)) is same


def test_password_map_lookup() -> None:
    passwords = PasswordMap({"redis://localhost:16379": "one", "redis://127.0.0.1:16380": "two"})
    assert passwords.lookup("redis://localhost:16379") == "one"
    assert passwords.lookup("redis://127.0.0.1:16379") == "one"  # upstream's exact match misses this
    assert passwords.lookup("redis://localhost:16380") == "two"
    assert passwords.lookup("redis://localhost:16381") == ""


def test_allowlist_matches_where_the_client_connects() -> None:
    allow = TargetAllowlist.parse("localhost:7000, redis://10.0.0.1:6379, unix:/run/redis/*")

    def allows(target: str) -> bool:
        return allow.allows([endpoint(parse_address(target))])

    assert allows("redis://127.0.0.1:7000")
    assert allows("10.0.0.1")
    assert allows("redis://user@10.0.0.1:6379/3")
    assert allows("unix:///run/redis/redis.sock")
    assert not allows("redis://10.0.0.2:6379")
    assert not allows("redis://10.0.0.1:6380")
    assert not allows("unix:///run/redis/../postgresql/.s.PGSQL.5432")
    # '*', the documented way back to upstream's "credentials to any target", is any TCP target
    anything = TargetAllowlist.parse("*")
    for target in ("redis://db.example.com:6379", "10.1.2.3:7000", "rediss://[2001:db8::1]:6380"):
        assert anything.allows([endpoint(parse_address(target))])
    assert not anything.allows([endpoint(parse_address("unix:///run/redis.sock"))])


@pytest.mark.timeout(60)
def test_serves_metrics(exporter_factory: object, redis_url: str) -> None:
    running: RunningExporter = exporter_factory("redis", ["-redis.addr", redis_url])  # type: ignore[operator]
    status, text = _get(f"{running.url}/metrics")
    assert status == 200
    assert _value(text, "redis_up") == 1
    assert _value(text, "redis_exporter_scrapes_total") == 1
    assert _value(text, "redis_exporter_scrape_duration_seconds_count") == 1
    assert _value(text, "redis_target_scrape_request_errors_total") == 0
    assert _value(text, "redis_exporter_build_info") == 1
    assert "promhttp_metric_handler" not in text  # redis_exporter has none
    status, text = _get(f"{running.url}/metrics")
    assert _value(text, "redis_exporter_scrapes_total") == 2
    assert _get(f"{running.url}/health") == (200, "ok")


# Runs the whole exporter as its command line does (flags, listener, one /metrics scrape) in a
# fresh interpreter, then prints whether the GC runs and the modules it loaded; the HTTP
# request is written by hand, as urllib would load ssl.
_SERVE_ONCE = """
import gc, os, socket, sys, threading
from exporters.cli import main

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
argv = ["redis", f"-web.listen-address=127.0.0.1:{port}", "-redis.addr=" + sys.argv[1]]
threading.Thread(target=main, args=(argv,), daemon=True).start()
for _ in range(500):
    try:
        conn = socket.create_connection((b"127.0.0.1", port), timeout=20)  # bytes: no idna codec
        break
    except ConnectionRefusedError:
        threading.Event().wait(0.02)
conn.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
body = b""
while chunk := conn.recv(65536):
    body += chunk
heavy = ("ssl", "_ssl", "_hashlib", "shutil", "html.entities", "unicodedata")
print("redis_up 1" in body.decode(), gc.isenabled(), sorted(m for m in sys.modules if m in heavy), flush=True)
os._exit(0)
"""


@pytest.mark.timeout(120)
def test_plain_redis_scrape_loads_no_ssl(redis_url: str) -> None:
    """ssl (libssl, ~5 MiB resident) is loaded only for a rediss:// target or a TLS web config;
    shutil (argparse's help width), html (the landing page) and unicodedata (idna) not at all.
    The GC, off while the command line starts the exporter, runs again once it serves."""
    import subprocess
    import sys

    if not redis_url.startswith("redis://"):
        pytest.skip("needs a plain redis:// server")
    out = subprocess.run([sys.executable, "-c", _SERVE_ONCE, redis_url], capture_output=True, text=True,
                         timeout=100, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "True True []"


@pytest.mark.timeout(60)
def test_redis_only_metrics(exporter_factory: object, redis_url: str) -> None:
    running: RunningExporter = exporter_factory("redis", ["-redis.addr", redis_url, "-redis-only-metrics"])  # type: ignore[operator]
    _, text = _get(f"{running.url}/metrics")
    assert _value(text, "redis_up") == 1
    assert "\nprocess_" not in text and "redis_exporter_build_info" not in text


@pytest.mark.timeout(60)
def test_multi_target_with_password_file(exporter_factory: object, server_factory: object, tmp_path: Path) -> None:
    secret = "file-secret-1"
    server: RedisServer = server_factory("redis7", password=secret)  # type: ignore[operator]
    other: RedisServer = server_factory("redis7")  # type: ignore[operator]
    password_file = tmp_path / "passwords.json"
    # written with "localhost", asked for with "127.0.0.1": still the same target
    password_file.write_text(json.dumps({f"redis://localhost:{server.port}": secret}))
    running: RunningExporter = exporter_factory(  # type: ignore[operator]
        "redis", ["-redis.addr", "", "-redis.password-file", str(password_file),
                  "-allowed-targets", f"localhost:{server.port},localhost:{other.port}", "-allow-scrape-key-checks"])
    status, text = _get(f"{running.url}/metrics")
    assert status == 200 and _value(text, "redis_up") is None  # no -redis.addr: exporter metrics only
    status, text = _get(f"{running.url}/scrape?target=127.0.0.1:{server.port}")
    assert status == 200
    assert _value(text, "redis_up") == 1
    assert _value(text, "redis_exporter_scrapes_total") == 1
    assert _value(text, "redis_exporter_build_info") == 1
    status, text = _get(f"{running.url}/scrape?target=redis://127.0.0.1:{other.port}&check-single-keys=nokey")
    assert _value(text, "redis_key_size", key="nokey") == 0
    # credentials in the target are dropped: the password file's entry is used
    status, text = _get(f"{running.url}/scrape?target=redis://:wrong@127.0.0.1:{server.port}")
    assert _value(text, "redis_up") == 1
    assert _get(f"{running.url}/scrape")[0] == 400
    status, _ = _get(f"{running.url}/scrape?target=127.0.0.1:{free_port()}")
    assert status == 403
    _, text = _get(f"{running.url}/metrics")
    assert _value(text, "redis_target_scrape_request_errors_total") == 2
    assert secret not in running.log()
    # the password file is read again on /-/reload
    password_file.write_text(json.dumps({}))
    assert _get(f"{running.url}/-/reload") == (200, "ok")
    _, text = _get(f"{running.url}/scrape?target=127.0.0.1:{server.port}")
    assert _value(text, "redis_up") == 0


@pytest.mark.timeout(60)
def test_bad_flags_exit_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "exporters.redis", "-web.listen-address", f"127.0.0.1:{free_port()}",
                           "-check-keys", "db=a=b"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "check-keys" in proc.stderr


@pytest.mark.timeout(60)
def test_hung_server_answers_within_scrape_timeout(exporter_factory: object) -> None:
    """Prometheus's scrape timeout header bounds the scrape, not upstream's 15 s connection timeout."""
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # accepts (backlog) and never answers
    try:
        port = listener.getsockname()[1]
        running: RunningExporter = exporter_factory("redis", ["-redis.addr", f"127.0.0.1:{port}"])  # type: ignore[operator]
        request = urllib.request.Request(f"{running.url}/metrics",
                                         headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"})
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=20) as response:
            text = response.read().decode()
        assert time.monotonic() - started < 2.5
        assert _value(text, "redis_up") == 0
        assert _value(text, "redis_exporter_last_scrape_error") == 1
    finally:
        listener.close()


@pytest.mark.timeout(60)
def test_no_flags_serves_local_redis(exporter_factory: object, redis_url: str) -> None:
    """With no flags (but the listen address) the exporter scrapes redis://localhost:6379."""
    if redis_url.rstrip("/") not in ("redis://127.0.0.1:6379", "redis://localhost:6379"):
        pytest.skip("the Redis service is not on localhost:6379")
    running: RunningExporter = exporter_factory("redis", [])  # type: ignore[operator]
    _, text = _get(f"{running.url}/metrics")
    assert _value(text, "redis_up") == 1
    assert _value(text, "redis_instance_info", tcp_port="6379") == 1


@pytest.mark.timeout(60)
def test_tls_server_flags(tmp_path: Path, redis_url: str) -> None:
    """-tls-server-cert-file / -tls-server-key-file serve HTTPS, as upstream does."""
    import ssl
    import subprocess
    import sys
    import time

    from tests.conftest import REPO
    from tests.redis.test_servers import _certificates

    certs = _certificates(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporters.redis", "-web.listen-address", f"127.0.0.1:{port}",
         "-redis.addr", redis_url, "-tls-server-cert-file", certs["server_cert"],
         "-tls-server-key-file", certs["server_key"]],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        context = ssl.create_default_context(cafile=certs["ca"])
        end = time.monotonic() + 15
        text = ""
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/metrics", context=context,
                                            timeout=10) as response:
                    text = response.read().decode()
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        assert _value(text, "redis_up") == 1
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run(
        [sys.executable, "-m", "exporters.redis", "-web.listen-address", f"127.0.0.1:{free_port()}",
         "-tls-server-cert-file", str(tmp_path / "missing.crt"), "-tls-server-key-file", certs["server_key"]],
        cwd=REPO, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


@pytest.mark.timeout(60)
def test_text_format_even_when_openmetrics_is_asked(exporter_factory: object, redis_url: str) -> None:
    """As redis_exporter (promhttp without OpenMetrics): Prometheus's Accept header gets text 0.0.4."""
    running: RunningExporter = exporter_factory("redis", ["-redis.addr", redis_url])  # type: ignore[operator]
    accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
              "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    request = urllib.request.Request(f"{running.url}/metrics", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    assert "# EOF" not in text and _value(text, "redis_up") == 1


@pytest.mark.timeout(90)
def test_prometheus_scrapes_it(exporter_factory: object, redis_url: str, tmp_path: Path) -> None:
    """A real Prometheus (as it negotiates formats and timeouts) stores redis_up 1 from us."""
    import subprocess
    import time

    from tests.conftest import reference_binary, wait_http

    prometheus = reference_binary("prometheus")
    running: RunningExporter = exporter_factory("redis", ["-redis.addr", redis_url])  # type: ignore[operator]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        f"scrape_configs: [{{job_name: redis, static_configs: [{{targets: ['127.0.0.1:{running.port}']}}]}}]\n")
    port = free_port()
    proc = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30, proc=proc)
        query = f"http://127.0.0.1:{port}/api/v1/query?query=redis_up"
        end = time.monotonic() + 30
        result: list[object] = []
        while time.monotonic() < end and not result:
            try:
                result = json.loads(_get(query)[1])["data"]["result"]
            except ValueError:  # /-/ready answers 503 until the TSDB is open
                result = []
            time.sleep(0.5)
        assert result and result[0]["value"][1] == "1"  # type: ignore[index]
        _, targets = _get(f"http://127.0.0.1:{port}/api/v1/targets")
        active = json.loads(targets)["data"]["activeTargets"]
        assert active[0]["health"] == "up" and active[0]["lastError"] == ""
    finally:
        proc.terminate()
        proc.wait(20)
