"""The HTTP server against raw sockets: every malformed-request case of the serving-layer issue.

Expected answers are what Go's net/http (node_exporter 1.9.0) answers to the same bytes.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from exporters.core.http import (
    HTTPRequest,
    HTTPResponse,
    HTTPServer,
    ServerLimits,
    _Poller,
    check_request_line,
    go_error,
)
from exporters.core.listen import bind

pytestmark = pytest.mark.timeout(60)


class Served:
    """A server on a free port whose handler records requests and may block on a gate."""

    def __init__(self, limits: ServerLimits, gate: threading.Event | None = None) -> None:
        self.seen: list[str] = []
        self.gate = gate
        self.listener = bind("127.0.0.1:0")
        self.server = HTTPServer([self.listener], self.handle, limits=limits)
        self.port = self.listener.port
        self.server.start()

    def handle(self, request: HTTPRequest) -> HTTPResponse:
        self.seen.append(request.target)
        if self.gate is not None and "block" in request.target:
            self.gate.wait(30)
        body = f"{request.method} {request.target} {request.headers.get('host', '-')}\n".encode()
        return HTTPResponse(200, body, [("Content-Type", "text/plain")])

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock


@pytest.fixture
def served() -> Iterator[Callable[..., Served]]:
    made: list[Served] = []

    def make(gate: threading.Event | None = None, **limits: float) -> Served:
        s = Served(ServerLimits(**limits), gate)  # type: ignore[arg-type]
        made.append(s)
        return s

    yield make
    for s in made:
        if s.gate is not None:
            s.gate.set()
        s.server.shutdown()


def exchange(sock: socket.socket, data: bytes, shut: bool = False) -> bytes:
    """Send ``data`` and read until the server closes (or 10 s of silence)."""
    sock.sendall(data)
    if shut:
        sock.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        out += chunk
    sock.close()
    return out


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body, and not a byte of the next one."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # a byte at a time: a pipelined answer may follow at once
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk, head + body
        body += chunk
    return head + body


@pytest.mark.parametrize(
    ("request_bytes", "shut", "answer"),
    [
        (b"HELLO\r\n\r\n", False, go_error(400)),
        (b"GET /metrics\r\n", False, go_error(400)),  # HTTP/0.9: a status line, not a body
        (b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", False, go_error(505, "unsupported protocol version")),
        (b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", False, go_error(505, "unsupported protocol version")),
        (b"GET / HTTP/1.x\r\nHost: x\r\n\r\n", False, go_error(400)),
        (b"GET / HTTP/1.1\r\n\r\n", False, go_error(400, "missing required Host header")),
        (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", False, go_error(400)),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", False, go_error(400, "invalid header name")),
        (b"GET / HTTP/1.1\r\n", True, go_error(400)),  # request line, then EOF
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", False, go_error(400)),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", False,
         go_error(501, body="Unsupported transfer encoding")),
        (b"GET /?" + b"a" * (2 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n", False, go_error(431)),
    ],
)
def test_malformed_requests_get_gos_answer(served: Callable[..., Served], request_bytes: bytes, shut: bool,
                                           answer: bytes) -> None:
    s = served()
    assert exchange(s.connect(), request_bytes, shut) == answer
    assert s.seen == []


def test_a_64k_request_line_is_served(served: Callable[..., Served]) -> None:
    s = served()
    target = "/metrics?" + "collect[]=cpu&" * 10_000
    response = exchange(s.connect(), f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert s.seen == [target]


def test_http_1_0_without_host_is_served(served: Callable[..., Served]) -> None:
    s = served()
    response = exchange(s.connect(), b"GET /x HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 OK\r\n") and response.endswith(b"GET /x -\n")


def test_a_body_is_read_not_parsed_as_a_request(served: Callable[..., Served]) -> None:
    """One request, one response: no desync behind a proxy."""
    s = served()
    sock = s.connect()
    sock.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\nGET /b HTTP/1.1")
    assert read_response(sock).endswith(b"POST /a x\n")
    sock.sendall(b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_response(sock).endswith(b"GET /c x\n")
    assert s.seen == ["/a", "/c"]
    sock.close()


def test_a_chunked_body_is_discarded(served: Callable[..., Served]) -> None:
    s = served()
    sock = s.connect()
    sock.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                 b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(sock).endswith(b"POST /a x\n")
    assert read_response(sock).endswith(b"GET /b x\n")
    sock.close()


def test_a_body_beyond_the_limit_closes_the_connection_after_the_answer(served: Callable[..., Served]) -> None:
    s = served(max_body_bytes=1000)
    response = exchange(s.connect(), b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
    assert response.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close\r\n" in response


def test_pipelined_requests_are_answered_in_order(served: Callable[..., Served]) -> None:
    s = served()
    sock = s.connect()
    sock.sendall(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"HEAD /3 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(sock).endswith(b"GET /1 x\n")
    assert read_response(sock).endswith(b"GET /2 x\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 10\r\n" in head
    assert head.endswith(b"\r\n\r\n")  # HEAD: no body
    sock.close()


def test_requests_are_served_in_arrival_order_by_bounded_workers(served: Callable[..., Served]) -> None:
    gate = threading.Event()
    s = served(gate, workers=1)
    first = s.connect()
    first.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_for(lambda: s.server.in_flight == 1)
    others = []
    for i in range(5):
        sock = s.connect()
        sock.sendall(f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wait_for(lambda i=i: s.server.in_flight == i + 2)
        others.append(sock)
    assert s.seen == ["/block"]  # one worker, busy: the rest wait their turn
    gate.set()
    for i, sock in enumerate(others):
        assert read_response(sock).endswith(f"GET /{i} x\n".encode())
    assert s.seen == ["/block", "/0", "/1", "/2", "/3", "/4"]
    assert s.server.workers == 1


def test_connections_beyond_the_cap_are_refused_cleanly(served: Callable[..., Served]) -> None:
    s = served(max_connections=3)
    held = [s.connect() for _ in range(3)]
    wait_for(lambda: s.server.connections == 3)
    assert exchange(s.connect(), b"") == go_error(503, "too many open connections")
    held[0].close()
    wait_for(lambda: s.server.connections == 2)
    assert exchange(s.connect(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200 OK")
    for sock in held[1:]:
        sock.close()


def test_a_slow_head_is_closed_at_the_header_timeout(served: Callable[..., Served]) -> None:
    """Slowloris: one header byte at a time never completes a request."""
    s = served(header_timeout=0.5)
    sock = s.connect()
    sock.sendall(b"GET / HTTP/1.1\r\n")
    begin = time.monotonic()
    closed = False
    while time.monotonic() - begin < 20:
        try:
            sock.sendall(b"X")
            sock.settimeout(0.2)
            if sock.recv(100) == b"":
                closed = True
                break
        except TimeoutError:
            continue
        except OSError:
            closed = True
            break
    assert closed
    assert s.server.connections == 0


def test_an_idle_keep_alive_connection_is_closed_at_the_idle_timeout(served: Callable[..., Served]) -> None:
    s = served(idle_timeout=0.3)
    sock = s.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    read_response(sock)
    sock.settimeout(20)
    assert sock.recv(100) == b""  # closed by the server
    sock.close()


def thread_switches(tid: int | None) -> int:
    with open(f"/proc/self/task/{tid}/status") as status:
        for line in status:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    raise AssertionError(f"no thread {tid}")


def test_no_wake_ups_when_idle(served: Callable[..., Served]) -> None:
    s = served()
    exchange(s.connect(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    wait_for(lambda: s.server.connections == 0)
    time.sleep(0.1)
    before = thread_switches(s.server.loop_thread_id)
    time.sleep(1.0)
    assert thread_switches(s.server.loop_thread_id) == before


def test_200_simultaneous_connects_are_all_answered(served: Callable[..., Served]) -> None:
    s = served()
    results: list[bytes] = []
    lock = threading.Lock()

    def one() -> None:
        response = exchange(s.connect(), b"GET /scrape HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        with lock:
            results.append(response[:15])

    threads = [threading.Thread(target=one) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(50)
    assert results == [b"HTTP/1.1 200 OK"] * 200


def test_listen_backlog_is_somaxconn() -> None:
    listener = bind("127.0.0.1:0")
    try:
        out = subprocess.run(["ss", "-ltnH", f"sport = :{listener.port}"], capture_output=True, text=True,
                             timeout=10).stdout.split()
        with open("/proc/sys/net/core/somaxconn") as handle:
            assert int(out[2]) == min(int(handle.read()), 65535)  # Send-Q of a listener is its backlog
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"GET / HTTP/1.1\r\n", None),
        (b"GET / HTTP/1.0\r\nHost", None),
        (b"GET / HTTP/2.0\r\n", (505, "unsupported protocol version")),
        (b"GET /\r\n", (400, "")),
        (b"GET / HTTP/1.1", None),  # not complete yet
        (b"\r\n", None),  # an empty line before a request is allowed
    ],
)
def test_check_request_line(line: bytes, expected: tuple[int, str] | None) -> None:
    assert check_request_line(line) == expected


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


@pytest.mark.parametrize("epoll", [True, False])
def test_the_poller_reports_readiness_with_epoll_and_with_poll(epoll: bool) -> None:
    poller = _Poller(epoll=epoll)
    a, b = socket.socketpair()
    try:
        poller.register(a.fileno(), _Poller.READ)
        assert poller.poll(0) == []
        b.send(b"x")
        assert poller.poll(5) == [(a.fileno(), _Poller.READ)]
        poller.modify(a.fileno(), _Poller.WRITE)
        assert poller.poll(5) == [(a.fileno(), _Poller.WRITE)]
        poller.unregister(a.fileno())
        assert poller.poll(0) == []
    finally:
        poller.close()
        a.close()
        b.close()
