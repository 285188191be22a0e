"""Basic auth, TLS and header settings from ``--web.config.file``, against a running server."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bcrypt
import pytest
import requests

from exporters.core.webconfig import BasicAuth
from tests.conftest import free_port
from tests.core.conftest import App, StaticCollector

AppFactory = Callable[..., App]


def write_users(tmp_path: Path, password: str = "s3cret!", extra: str = "") -> Path:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  prom: '{hashed}'\n{extra}")
    return path


def test_basic_auth_401_and_200(app_factory: AppFactory, tmp_path: Path) -> None:
    config = write_users(tmp_path, extra="http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
    app = app_factory({"a": StaticCollector("a")}, ["--web.config.file", str(config)])
    assert requests.get(app.url + "/metrics", timeout=5).status_code == 401
    wrong = requests.get(app.url + "/metrics", auth=("prom", "nope"), timeout=5)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(app.url + "/metrics", auth=("nobody", "s3cret!"), timeout=5).status_code == 401
    ok = requests.get(app.url + "/metrics", auth=("prom", "s3cret!"), timeout=5)
    assert ok.status_code == 200
    assert "test_a_value" in ok.text
    assert ok.headers["X-Frame-Options"] == "deny"
    assert "s3cret" not in app.log()


def test_bcrypt_outcomes_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=10)).decode()
    auth = BasicAuth({"u": hashed})
    calls = []
    real = bcrypt.checkpw

    def counting(password: bytes, stored: bytes) -> bool:
        calls.append(1)
        return real(password, stored)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    assert auth.check("u", "pw")
    assert auth.check("u", "pw")
    assert auth.check("u", "pw")
    assert len(calls) == 1
    assert not auth.check("u", "wrong")
    assert not auth.check("u", "wrong")
    assert len(calls) == 2  # a repeated wrong password is a cache hit, as exporter-toolkit
    for _ in range(50):
        assert auth.check("u", "pw")
    assert len(calls) == 2


def test_bcrypt_is_serialised_and_parallel_repeats_cost_one_check(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    auth = BasicAuth({"u": hashed})
    running = []
    most = []
    real = bcrypt.checkpw

    def watching(password: bytes, stored: bytes) -> bool:
        running.append(1)
        most.append(len(running))
        try:
            return real(password, stored)
        finally:
            running.pop()

    monkeypatch.setattr(bcrypt, "checkpw", watching)
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(lambda i: auth.check("u", f"wrong{i % 4}"), range(64)))
    assert not any(outcomes)
    assert max(most) == 1  # one bcrypt at a time
    assert auth.bcrypt_checks == 4  # one per distinct wrong password


def test_dummy_hash_costs_as_much_as_the_configured_ones() -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=12)).decode()
    auth = BasicAuth({"u": hashed})
    assert auth._dummy.startswith(b"$2b$12$")
    assert not auth.check("nobody", "pw")


def make_cert(tmp_path: Path, name: str = "server", ca: tuple[Path, Path] | None = None) -> tuple[Path, Path]:
    """A self-signed (or CA-signed) certificate for 127.0.0.1, made with the openssl CLI."""
    key = tmp_path / f"{name}.key"
    crt = tmp_path / f"{name}.crt"
    ext = tmp_path / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    if ca is None:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
             "-days", "2", "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-addext", "basicConstraints=critical,CA:TRUE"],
            check=True, capture_output=True,
        )
    else:
        csr = tmp_path / f"{name}.csr"
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                        "-subj", f"/CN={name}"], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]),
                        "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(ext)],
                       check=True, capture_output=True)
    return key, crt


def wait_tls(url: str, ca: Path, cert: tuple[str, str] | None = None) -> Callable[[str], None]:
    def ready(_: str) -> None:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                requests.get(url, verify=str(ca), cert=cert, timeout=2)
                return
            except requests.exceptions.SSLError:
                return
            except requests.exceptions.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError(url)
    return ready


@pytest.mark.timeout(60)
def test_tls_with_generated_certificate(app_factory: AppFactory, tmp_path: Path) -> None:
    key, crt = make_cert(tmp_path)
    config = tmp_path / "tls.yml"
    # relative paths resolve against the config file's directory, as exporter-toolkit does
    config.write_text(f"tls_server_config:\n  cert_file: {crt.name}\n  key_file: {key.name}\n")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    app = app_factory({"a": StaticCollector("a")}, ["--web.config.file", str(config), "--web.listen-address",
                                                    f"127.0.0.1:{port}"],
                      scheme="https", ready=wait_tls(url + "/", crt))
    response = requests.get(url + "/metrics", verify=str(crt), timeout=5)
    assert response.status_code == 200
    assert "test_a_value" in response.text
    # plain HTTP to the TLS port: Go's answer, not a reset
    plain = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert plain.status_code == 400
    assert plain.text == "Client sent an HTTP request to an HTTPS server.\n"
    # a TLS 1.2 client is accepted by default (min_version TLS12) ...
    assert tls_handshake(port, crt, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    app.stop.set()
    app.thread.join(15)
    # ... and refused once min_version is TLS13
    config.write_text(f"tls_server_config:\n  cert_file: {crt.name}\n  key_file: {key.name}\n  min_version: TLS13\n")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    app_factory({"a": StaticCollector("a")}, ["--web.config.file", str(config), "--web.listen-address",
                                              f"127.0.0.1:{port}"],
                scheme="https", ready=wait_tls(url + "/", crt))
    assert tls_handshake(port, crt, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        tls_handshake(port, crt, ssl.TLSVersion.TLSv1_2)


def tls_handshake(port: int, ca: Path, max_version: ssl.TLSVersion) -> str | None:
    context = ssl.create_default_context(cafile=str(ca))
    context.maximum_version = max_version
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version()


@pytest.mark.timeout(60)
def test_tls_client_certificates_required(app_factory: AppFactory, tmp_path: Path) -> None:
    ca_key, ca_crt = make_cert(tmp_path, "ca")
    key, crt = make_cert(tmp_path, "server", ca=(ca_key, ca_crt))
    client_key, client_crt = make_cert(tmp_path, "client", ca=(ca_key, ca_crt))
    config = tmp_path / "mtls.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {crt}\n  key_file: {key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {ca_crt}\n"
    )
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    app_factory({"a": StaticCollector("a")}, ["--web.config.file", str(config), "--web.listen-address",
                                              f"127.0.0.1:{port}"],
                scheme="https", ready=wait_tls(url + "/", ca_crt, (str(client_crt), str(client_key))))
    ok = requests.get(url + "/metrics", verify=str(ca_crt), cert=(str(client_crt), str(client_key)), timeout=5)
    assert ok.status_code == 200
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(url + "/metrics", verify=str(ca_crt), timeout=5)


def test_rate_limit_answers_429(app_factory: AppFactory, tmp_path: Path) -> None:
    config = tmp_path / "rate.yml"
    # the start-up readiness probe takes one token of the three
    config.write_text("rate_limit:\n  burst: 3\n  interval: 1m\n")
    app = app_factory({"a": StaticCollector("a")}, ["--web.config.file", str(config)])
    codes = [requests.get(app.url + "/metrics", timeout=5).status_code for _ in range(4)]
    assert codes == [200, 200, 429, 429]
