"""What idle and trickling connections cost the server: bytes of Python heap, threads.

The clients run in a child process, so everything tracemalloc counts here is the server's.
A connection that has sent nothing, half a request head, or sits kept-alive after an answer
holds no parser and no read buffer: a few hundred bytes, never a thread.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from exporters.core.http import HTTPRequest, HTTPResponse, HTTPServer, ServerLimits
from exporters.core.listen import bind
from tests.core.test_server import wait_for

COUNT = 1000
# per connection: socket object, connection record, descriptor map entry, timer; half a head for half of them
MAX_BYTES_PER_CONNECTION = 600
# what stays once they are gone: the connection set's and the selector's tables do not shrink
MAX_BYTES_AFTER = 256 * 1024

CLIENT = r"""
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, count = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(count):
    sock = socket.create_connection(("127.0.0.1", port))
    if i % 2:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # a head that never ends
    elif i % 4 == 0:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, then kept alive
        data = b""
        while not data.endswith(b"ok"):
            data += sock.recv(4096)
    socks.append(sock)
print("ready", flush=True)
sys.stdin.read()
"""


def traced_when_settled() -> int:
    """The traced size once the server's loop has read what the clients sent (it stops changing)."""
    last = -1
    for _ in range(200):
        current = tracemalloc.get_traced_memory()[0]
        if current == last:
            return current
        last = current
        time.sleep(0.05)
    return last


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    listener = bind("127.0.0.1:0")

    def handle(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse(200, b"ok")

    srv = HTTPServer([listener], handle, limits=ServerLimits(header_timeout=120, idle_timeout=120))
    srv.start()
    yield srv
    srv.shutdown()


@pytest.mark.timeout(120)
def test_idle_and_trickling_connections_cost_a_few_hundred_bytes_and_no_thread(server: HTTPServer) -> None:
    port = server.listeners[0].port
    # the one worker thread the answered requests need, started before counting
    warm = subprocess.run([sys.executable, "-c", CLIENT, str(port), "1"], input="", text=True, timeout=60,
                          capture_output=True)
    assert warm.stdout == "ready\n"
    wait_for(lambda: server.connections == 0)
    workers = server.workers
    tracemalloc.start()
    try:
        before = traced_when_settled()
        client = subprocess.Popen([sys.executable, "-c", CLIENT, str(port), str(COUNT)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert client.stdout is not None and client.stdout.readline() == "ready\n"
            wait_for(lambda: server.connections == COUNT)
            held = traced_when_settled() - before
            assert server.workers == workers  # no thread per connection
        finally:
            client.communicate("", timeout=60)
        wait_for(lambda: server.connections == 0)
        after = traced_when_settled() - before
    finally:
        tracemalloc.stop()
    assert held / COUNT < MAX_BYTES_PER_CONNECTION, held / COUNT
    assert after < MAX_BYTES_AFTER, after
