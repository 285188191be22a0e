"""The hardened surface of the three exporters, as processes: TLS floor, secrets never shown,
target allowlists, a postgres session that cannot write.

Basic auth (constant-time bcrypt with cached successes) and the web config's TLS options are
covered in-process by tests/core/test_security.py; here each real exporter is checked.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests

from tests.conftest import RunningExporter
from tests.core.test_security import make_cert
from tests.reliability.conftest import HungPeer, PrivatePostgres, PrivateRedis, record, require_exporter, scrape
from tests.reliability.launch import launch

pytestmark = [pytest.mark.timeout(90), pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")]

PG_WRONG = "Pg-Wrong-Secret-3391"
REDIS_SECRET = "Redis-Secret-Grep-7730"
WEB_SECRET = "Web-Basic-Auth-Secret-1187"


# -- TLS 1.2 minimum -------------------------------------------------------------------------


def _tls11_client() -> ssl.SSLContext:
    # the deprecated versions are the point: a client that offers nothing newer than TLS 1.1
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def _handshake(port: int, context: ssl.SSLContext) -> str | None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version()


@pytest.fixture(scope="module")
def tls11_possible(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Prove this machine's OpenSSL can speak TLS 1.1 at all, so that a refusal means something."""
    tmp = tmp_path_factory.mktemp("tls11")
    key, crt = make_cert(tmp)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1
    server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    server_ctx.load_cert_chain(str(crt), str(key))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        version = _handshake(port, _tls11_client())
    except (OSError, ssl.SSLError) as err:
        pytest.xfail(f"this OpenSSL cannot speak TLS 1.1 even to a permissive server ({err}): "
                     "the TLS 1.2 floor cannot be demonstrated here")
    finally:
        thread.join(5)
        listener.close()
    assert version == "TLSv1.1"
    yield


@pytest.mark.parametrize("kind", ["node", "postgres", "redis"])
def test_tls_floor_is_1_2(kind: str, tmp_path: Path, tls11_possible: None) -> None:
    require_exporter(kind)
    key, crt = make_cert(tmp_path)
    config = tmp_path / "web.yml"
    config.write_text(f"tls_server_config:\n  cert_file: {crt}\n  key_file: {key}\n")
    flag = "-web.config.file" if kind == "redis" else "--web.config.file"
    args = [flag, str(config)]
    if kind == "postgres":
        args += ["--config.file", str(tmp_path / "none.yml")]
    exporter = launch(kind, args, tmp_path, wait=False,
                      env={"DATA_SOURCE_NAME": "postgresql://u@127.0.0.1:1/d?sslmode=disable"})
    try:
        modern = ssl.create_default_context(cafile=str(crt))
        modern.maximum_version = ssl.TLSVersion.TLSv1_2
        end = time.monotonic() + 20
        version: str | None = None
        while version is None:
            try:
                version = _handshake(exporter.port, modern)
            except ConnectionRefusedError:
                assert exporter.proc.poll() is None, exporter.log()
                assert time.monotonic() < end, "exporter did not listen"
                time.sleep(0.1)
        assert version == "TLSv1.2"
        with pytest.raises(ssl.SSLError):
            _handshake(exporter.port, _tls11_client())
    finally:
        exporter.stop()


# -- secrets never shown ---------------------------------------------------------------------


def _everything_said(exporter: RunningExporter, responses: list[str]) -> str:
    return exporter.log() + "\n".join(responses)


# debug adds the HTTP request log: it must not show credentials a client put in a /probe or /scrape target
LOG_LEVELS = ["info", "debug"]


@pytest.mark.parametrize("level", LOG_LEVELS)
def test_postgres_password_never_in_output(tmp_path: Path, postgres_up: PrivatePostgres,
                                           hung_peer: HungPeer, level: str) -> None:
    """Right password, wrong password, unreachable server, /probe with credentials: grep everything."""
    require_exporter("postgres")
    good = postgres_up.dsn()
    wrong = postgres_up.dsn(password=PG_WRONG)
    unreachable = f"postgresql://exporter:{PG_WRONG}@127.0.0.1:{hung_peer.port}/postgres?sslmode=disable"
    exporter = launch("postgres", ["--config.file", str(tmp_path / "none.yml"), "--log.level", level], tmp_path,
                      env={"DATA_SOURCE_NAME": ",".join([good, wrong, unreachable])})
    said: list[str] = []
    try:
        result = scrape(exporter.url + "/metrics", timeout=4)
        said.append(result.text)
        probe_url = postgres_up.dsn(password=PG_WRONG)
        for target in (probe_url, probe_url.replace("postgresql://", ""), f"{probe_url}&password={PG_WRONG}"):
            response = requests.get(exporter.url + "/probe", params={"target": target}, timeout=10)
            said.append(f"{response.status_code} {response.text}")
        said.append(requests.get(exporter.url + "/", timeout=5).text)
    finally:
        exporter.stop()
    everything = _everything_said(exporter, said)
    assert result.status == 200
    assert result.value("pg_up") is not None
    assert "error" in exporter.log().lower(), "the failing DSNs must have been logged (redacted)"
    assert PG_WRONG not in everything
    assert PrivatePostgres.PASSWORD not in everything
    record(f"postgres password grep ({level})", lines_checked=everything.count("\n"), found=0)


@pytest.mark.parametrize("level", LOG_LEVELS)
def test_redis_password_never_in_output(tmp_path: Path, private_redis: PrivateRedis, level: str) -> None:
    require_exporter("redis")
    client: Any = private_redis.client()
    client.config_set("requirepass", REDIS_SECRET)
    exporter = launch("redis", ["-redis.addr", private_redis.addr, f"-debug={level == 'debug'}",
                                "-include-config-metrics"], tmp_path,
                      env={"REDIS_PASSWORD": REDIS_SECRET})
    said: list[str] = []
    try:
        ok = scrape(exporter.url + "/metrics")
        said.append(ok.text)
        for target in (f"redis://:{REDIS_SECRET}@127.0.0.1:1", f"redis://user:{REDIS_SECRET}@{private_redis.addr[8:]}",
                       f"127.0.0.1:{private_redis.port}"):
            response = requests.get(exporter.url + "/scrape", params={"target": target}, timeout=10)
            said.append(f"{response.status_code} {response.text}")
        private_redis.stop()
        said.append(scrape(exporter.url + "/metrics").text)
    finally:
        exporter.stop()
    everything = _everything_said(exporter, said)
    assert ok.value("redis_up") == 1
    assert REDIS_SECRET not in everything
    record(f"redis password grep ({level})", lines_checked=everything.count("\n"), found=0)


def test_basic_auth_password_never_in_output(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(WEB_SECRET.encode(), bcrypt.gensalt(rounds=8)).decode()
    config = tmp_path / "web.yml"
    config.write_text(f"basic_auth_users:\n  prom: '{hashed}'\n")
    exporter = launch("node", ["--web.config.file", str(config), "--log.level", "debug",
                               "--collector.disable-defaults", "--collector.loadavg"], tmp_path)
    said: list[str] = []
    try:
        wrong = requests.get(exporter.url + "/metrics", auth=("prom", WEB_SECRET + "x"), timeout=5)
        right = requests.get(exporter.url + "/metrics", auth=("prom", WEB_SECRET), timeout=5)
        said += [wrong.text, right.text]
    finally:
        exporter.stop()
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert WEB_SECRET not in _everything_said(exporter, said)
    assert hashed not in _everything_said(exporter, said)


# -- target allowlists -----------------------------------------------------------------------


def test_postgres_probe_allowlist(tmp_path: Path, postgres_up: PrivatePostgres, hung_peer: HungPeer) -> None:
    require_exporter("postgres")
    exporter = launch("postgres", ["--config.file", str(tmp_path / "none.yml"),
                                   "--probe.allowed-targets", f"127.0.0.1:{postgres_up.port}"], tmp_path,
                      env={"DATA_SOURCE_NAME": ""})
    try:
        allowed = requests.get(exporter.url + "/probe", params={"target": postgres_up.dsn()}, timeout=10)
        refused = requests.get(exporter.url + "/probe", timeout=10, params={
            "target": f"postgresql://exporter:x@127.0.0.1:{hung_peer.port}/postgres?sslmode=disable"})
        time.sleep(0.3)
    finally:
        exporter.stop()
    assert allowed.status_code == 200
    assert "pg_up 1" in allowed.text
    assert refused.status_code == 403
    assert not hung_peer.accepted, "a refused target must not be connected to"


def test_redis_scrape_allowlist(tmp_path: Path, private_redis: PrivateRedis, hung_peer: HungPeer) -> None:
    require_exporter("redis")
    exporter = launch("redis", ["-redis.addr", "", "-allowed-targets", f"127.0.0.1:{private_redis.port}"], tmp_path)
    try:
        allowed = requests.get(exporter.url + "/scrape", params={"target": private_redis.addr}, timeout=10)
        refused = requests.get(exporter.url + "/scrape", params={"target": f"127.0.0.1:{hung_peer.port}"},
                               timeout=10)
        time.sleep(0.3)
    finally:
        exporter.stop()
    assert allowed.status_code == 200
    assert "redis_up 1" in allowed.text
    assert refused.status_code == 403
    assert not hung_peer.accepted, "a refused target must not be connected to"


# -- the postgres exporter writes nothing its role may not write ---------------------------
# As upstream, queries-file entries run in the session's default access mode (pgmonitor's
# queries call functions that refresh tables): the role's privileges are the boundary.
# The built-in collectors run read-only (tests/postgres/test_pg_session.py).

WRITE_QUERIES = """\
rel_insert:
  query: "INSERT INTO rel_target VALUES (1) RETURNING id"
  metrics:
    - id:
        usage: "GAUGE"
        description: "Plain INSERT."
rel_cte:
  query: "WITH w AS (INSERT INTO rel_target VALUES (2) RETURNING id) SELECT id FROM w"
  metrics:
    - id:
        usage: "GAUGE"
        description: "INSERT in a writable CTE."
rel_escape:
  query: "COMMIT; INSERT INTO rel_target VALUES (3); SELECT 3 AS id"
  metrics:
    - id:
        usage: "GAUGE"
        description: "Several commands in one string, with a COMMIT."
rel_function:
  query: "SELECT 5 AS id FROM dblink_connect_u('x') LIMIT 0"
  metrics:
    - id:
        usage: "GAUGE"
        description: "A function that does not exist."
rel_ok:
  query: "SELECT 7 AS id"
  metrics:
    - id:
        usage: "GAUGE"
        description: "Reading is fine."
"""


def test_postgres_queries_file_writes_nothing_the_role_may_not(tmp_path: Path, postgres_up: PrivatePostgres) -> None:
    """Every way of writing fails for a role without write privileges; the rest is served."""
    require_exporter("postgres")
    postgres_up.sql("TRUNCATE rel_target")
    queries = tmp_path / "queries.yaml"
    queries.write_text(WRITE_QUERIES)
    exporter = launch("postgres", ["--config.file", str(tmp_path / "none.yml"), "--extend.query-path", str(queries)],
                      tmp_path, env={"DATA_SOURCE_NAME": postgres_up.dsn("nomonitor")})
    try:
        results = [scrape(exporter.url + "/metrics", timeout=4) for _ in range(2)]
    finally:
        exporter.stop()
    rows = postgres_up.sql("SELECT count(*) FROM rel_target")
    assert rows == "[(0,)]", f"the exporter wrote to the database: {rows}"
    for result in results:
        assert result.status == 200
        assert result.value("pg_up") == 1
        assert result.value("rel_ok_id") == 7
        for name in ("rel_insert_id", "rel_cte_id", "rel_escape_id"):
            assert result.value(name) is None, f"{name} ran"
    assert "permission denied" in exporter.log()
    record("postgres queries file without write privileges", rows_written=0, write_attempts=3 * len(results))
