"""supervisord collector: URL and reply parsing, hostile servers at the socket boundary, and a
real supervisord (over TCP with basic auth, and over its unix socket) side by side with
node_exporter 1.9.0."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import xmlrpc.client
from collections.abc import Iterator

import pytest

from exporters.node.collectors import supervisord
from exporters.node.collectors.supervisord import ProcessInfo, SupervisordCollector
from tests.conftest import free_port, missing
from tests.node.collected import samples, value
from tests.node.live_scrape import get, same_as_reference

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(("url", "expected"), [
    ("http://localhost:9001/RPC2", ("http", "localhost", 9001, "/RPC2", None, None)),
    ("https://h/x?y=1", ("https", "h", None, "/x?y=1", None, None)),
    ("http://u%40x:p%3Aw@[::1]:9/RPC2", ("http", "::1", 9, "/RPC2", None, "Basic dUB4OnA6dw==")),
    ("unix:///run/supervisor.sock", ("http", "unix", None, "/RPC2", "/run/supervisor.sock", None)),
])
def test_parse_url(url: str, expected: tuple[object, ...]) -> None:
    e = supervisord.parse_url(url)
    assert (e.scheme, e.host, e.port, e.path, e.unix_socket, e.authorization) == expected


@pytest.mark.parametrize("url", ["localhost:9001", "ftp://h/x", "http://h:99999/x", ""])
def test_unusable_url_fails_the_scrape_not_the_start(url: str) -> None:
    collector = SupervisordCollector(url, timeout=1)  # built: the exporter starts
    with pytest.raises(RuntimeError, match="unable to call supervisord"):
        list(collector.collect())


def test_parse_process_info_degrades_per_field() -> None:
    result = [
        {"name": "a", "group": "g", "state": 20, "exitstatus": 0, "start": 1700000000, "extra": [1]},
        {"name": 5, "group": "g", "state": True, "exitstatus": "x"},
        "not a struct",
    ]
    assert supervisord.parse_process_info(result) == [
        ProcessInfo("a", "g", 20, 0, 1700000000), ProcessInfo("", "g", 0, 0, 0)]
    with pytest.raises(ValueError):
        supervisord.parse_process_info({"name": "a"})


@pytest.mark.parametrize("state", [0, 10, 20, 30, 40, 100, 200, 1000])
def test_up_and_start_time_follow_the_state(state: int) -> None:
    found = samples(supervisord.process_families([ProcessInfo("p", "g", state, 2, 1234)]))
    running = state in (10, 20, 40)
    assert value(found, "node_supervisord_up", name="p", group="g") == (1 if running else 0)
    assert value(found, "node_supervisord_state", name="p", group="g") == state
    assert value(found, "node_supervisord_exit_status", name="p", group="g") == 2
    assert (("node_supervisord_start_time_seconds", (("group", "g"), ("name", "p"))) in found) is running


@pytest.mark.parametrize("body", [
    b"not xml", b"<methodResponse><params></params></methodResponse>",
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
    b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>]><methodResponse><params><param><value>&c;</value>"
    b"</param></params></methodResponse>",
])
def test_malformed_replies(body: bytes) -> None:
    with pytest.raises((ValueError, RuntimeError)):
        supervisord.process_families(supervisord.parse_process_info(supervisord.parse_reply(body)))


def test_fault_reply() -> None:
    with pytest.raises(RuntimeError, match="fault 1: UNKNOWN_METHOD"):
        supervisord.parse_reply(xmlrpc.client.dumps(xmlrpc.client.Fault(1, "UNKNOWN_METHOD")).encode())


def _read_request(conn: socket.socket) -> None:
    """The whole request (head and body): closing with unread bytes would reset the connection."""
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def _one_shot_server(response: bytes, delay: float = 0.0) -> tuple[str, threading.Thread]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                _read_request(conn)
                time.sleep(delay)
                try:
                    conn.sendall(response)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/RPC2", thread


@pytest.mark.parametrize(("response", "error"), [
    (b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", "HTTP status 401"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2_000_000, "larger than"),
    (b"garbage\r\n\r\n", "unable to call"),
])
def test_hostile_http_peers(response: bytes, error: str) -> None:
    url, thread = _one_shot_server(response)
    with pytest.raises(RuntimeError, match=error):
        list(SupervisordCollector(url, timeout=5, max_bytes=1_000_000).collect())
    thread.join(timeout=5)


def test_silent_server_costs_the_timeout_only() -> None:
    url, _ = _one_shot_server(b"", delay=3)
    begin = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out"):
        list(SupervisordCollector(url, timeout=0.5).collect())
    assert time.monotonic() - begin < 3


# ---- a real supervisord

CONFIG = """\
[unix_http_server]
file={dir}/supervisor.sock
[inet_http_server]
port=127.0.0.1:{port}
username=nd
password=secret
[supervisord]
nodaemon=true
logfile={dir}/supervisord.log
pidfile={dir}/supervisord.pid
childlogdir={dir}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:sleeper]
command=/bin/sleep 600
[program:quick]
command=/bin/sh -c "exit 3"
autorestart=false
startsecs=0
exitcodes=3
[program:never]
command=/bin/sleep 600
autostart=false
[program:worker]
command=/bin/sleep 600
process_name=%(program_name)s_%(process_num)d
numprocs=2
[group:pool]
programs=worker
"""


@pytest.fixture(scope="module")
def supervisor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A running supervisord; yields its TCP URL (with credentials) and its unix URL."""
    binary = shutil.which("supervisord")
    if binary is None:
        missing("supervisord (Debian package supervisor)")
    assert binary is not None
    directory = tmp_path_factory.mktemp("supervisord")
    port = free_port()
    (directory / "supervisord.conf").write_text(CONFIG.format(dir=directory, port=port))
    proc = subprocess.Popen([binary, "-c", str(directory / "supervisord.conf")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    unix_url = f"unix://{directory}/supervisor.sock"
    try:
        end = time.monotonic() + 30
        while True:
            try:
                states = {p.name: p.state for p in supervisord.parse_process_info(
                    supervisord.call(supervisord.parse_url(unix_url), "supervisor.getAllProcessInfo", 2))}
                if states.get("sleeper") == 20 and states.get("quick") == 100 and states.get("worker_1") == 20:
                    break
            except (OSError, RuntimeError, ValueError):
                pass
            assert proc.poll() is None and time.monotonic() < end, "supervisord did not start its programs"
            time.sleep(0.1)
        yield f"http://nd:secret@127.0.0.1:{port}/RPC2", unix_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.mark.parametrize("transport", ["tcp-basic-auth", "unix"])
def test_same_series_as_node_exporter(supervisor: tuple[str, str], transport: str) -> None:
    url = supervisor[0] if transport == "tcp-basic-auth" else supervisor[1]
    flags = ["--collector.disable-defaults", "--collector.supervisord", f"--collector.supervisord.url={url}"]
    ours = same_as_reference(flags, "node_supervisord", "supervisord")
    assert get(ours, "node_supervisord_up", name="sleeper", group="sleeper") == 1
    assert get(ours, "node_supervisord_up", name="worker_1", group="pool") == 1
    assert get(ours, "node_supervisord_state", name="quick", group="quick") == 100
    assert get(ours, "node_supervisord_exit_status", name="quick", group="quick") == 3
    assert get(ours, "node_supervisord_state", name="never", group="never") == 0
    # (the text parser names a counter's sample <name>_total)
    started = get(ours, "node_supervisord_start_time_seconds_total", name="sleeper", group="sleeper")
    assert abs(started - time.time()) < 600


def test_wrong_password_is_a_failed_scrape(supervisor: tuple[str, str]) -> None:
    with pytest.raises(RuntimeError, match="HTTP status 401"):
        list(SupervisordCollector(supervisor[0].replace("secret", "wrong"), timeout=5).collect())
