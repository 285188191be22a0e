"""Fuzzing the request parser path: any bytes get a well-formed answer or a close, never a dead server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporters.core.http import HTTPRequest, HTTPResponse, HTTPServer, ServerLimits
from exporters.core.listen import bind

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

LINES = st.sampled_from([
    b"GET / HTTP/1.1\r\n", b"GET /metrics HTTP/1.0\r\n", b"POST /x HTTP/1.1\r\n", b"HEAD / HTTP/1.1\r\n",
    b"Host: x\r\n", b"Content-Length: 3\r\n", b"Content-Length: -1\r\n", b"Transfer-Encoding: chunked\r\n",
    b"Connection: close\r\n", b"Expect: 100-continue\r\n", b"\r\n", b"3\r\nabc\r\n", b"0\r\n\r\n", b"abc",
    b"GET / HTTP/2.0\r\n", b"\x16\x03\x01\x00", b"X: \xff\xfe\r\n", b" folded\r\n", b"\n",
])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HTTPServer, int]]:
    listener = bind("127.0.0.1:0")

    def handle(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse(200, b"ok\n", [("Content-Type", "text/plain")])

    srv = HTTPServer([listener], handle, limits=ServerLimits(header_timeout=5, idle_timeout=5,
                                                             max_head_bytes=8192, max_body_bytes=4096))
    srv.start()
    yield srv, listener.port
    srv.shutdown()


def send(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def assert_well_formed(answer: bytes) -> None:
    """Nothing, or responses that each start with a status line (never a bare body)."""
    if answer:
        assert answer.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), answer[:80]


@pytest.mark.timeout(300)
@FUZZ
@given(st.lists(LINES, max_size=12).map(b"".join))
def test_structured_garbage(server: tuple[HTTPServer, int], data: bytes) -> None:
    port = server[1]
    assert_well_formed(send(port, data))
    assert send(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200 OK")


@pytest.mark.timeout(300)
@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes(server: tuple[HTTPServer, int], data: bytes) -> None:
    srv, port = server
    assert_well_formed(send(port, data))
    assert srv.connections <= 1
