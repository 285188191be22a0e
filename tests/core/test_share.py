"""--scrape.share: identical scrapes arriving while one is collected share its collection and answer.

The scrape handler counts its calls and blocks on an Event, so which requests overlap is set
by the test, not by timing: a request is known to have joined once the server counts it.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator

import pytest

from exporters.core.app import Exporter, HTTPError, Request, Runtime
from exporters.core.http import HTTPRequest, HTTPServer
from exporters.core.listen import bind
from exporters.core.metrics import GaugeFamily, Metric
from exporters.core.settings import WebSettings
from exporters.core.webconfig import WebConfig
from tests.core.test_server import read_response, wait_for

pytestmark = pytest.mark.timeout(60)


class GatedScrape:
    """A scrape handler that counts its calls and blocks until ``release`` is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.fail: Exception | None = None

    def __call__(self, request: Request) -> Iterable[Metric]:
        with self.lock:
            self.calls += 1
            call = self.calls
        assert self.release.wait(30)
        if self.fail is not None:
            raise self.fail
        gauge = GaugeFamily("test_call", "Which call of the handler answered.", labels=["query"])
        gauge.add_metric([request.param("target")], float(call))
        return [gauge]


class Served:
    def __init__(self, share: bool = True) -> None:
        self.scrape = GatedScrape()
        listener = bind("127.0.0.1:0")
        self.port = listener.port
        web = WebSettings(listen_addresses=("127.0.0.1:0",), max_requests=0, share_scrapes=share)
        runtime = Runtime(logging.getLogger("test.share"), WebConfig(), (listener,))
        self.app = Exporter(name="test", upstream="test_exporter", title="Test", web=web, runtime=runtime,
                            metrics=self.scrape, metrics_routes={"/scrape": self.scrape})
        self.server = HTTPServer([listener], self.app.handle, self.app.admit, share=self.app.share_key,
                                 joined=self.app.joined)
        self.server.start()

    def send(self, target: str = "/metrics", headers: str = "") -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        return sock

    def get(self, target: str = "/metrics", headers: str = "") -> tuple[bytes, bytes]:
        """One request answered at once (the handler released)."""
        with self.send(target, headers) as sock:
            return split(read_response(sock))


def split(response: bytes) -> tuple[bytes, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body


@pytest.fixture
def served() -> Iterator[Callable[..., Served]]:
    made: list[Served] = []

    def make(share: bool = True) -> Served:
        s = Served(share)
        made.append(s)
        return s

    yield make
    for s in made:
        s.scrape.release.set()
        s.server.shutdown()


def test_identical_scrapes_share_one_collection_and_one_body(served: Callable[..., Served]) -> None:
    s = served()
    n = 30
    socks = [s.send()]
    wait_for(lambda: s.scrape.calls == 1)
    socks += [s.send() for _ in range(n - 1)]
    wait_for(lambda: s.server.shared == n - 1)
    s.scrape.release.set()
    answers = [split(read_response(sock)) for sock in socks]
    assert s.scrape.calls == 1
    assert {status for status, _ in answers} == {b"HTTP/1.1 200 OK"}
    bodies = {body for _, body in answers}
    assert len(bodies) == 1 and b'test_call{query=""} 1\n' in bodies.pop()
    for sock in socks:
        sock.close()
    # every shared answer counts as a scrape served, as promhttp counts each request
    _, body = s.get()
    assert s.scrape.calls == 2  # after the first answer, the same scrape collects again
    assert b'test_call{query=""} 2\n' in body
    assert f'promhttp_metric_handler_requests_total{{code="200"}} {n}\n'.encode() in body


def test_the_leader_leaving_does_not_leave_the_others_unanswered(served: Callable[..., Served]) -> None:
    s = served()
    leader = s.send()
    wait_for(lambda: s.scrape.calls == 1)
    others = [s.send() for _ in range(3)]
    wait_for(lambda: s.server.shared == 3)
    leader.close()
    s.scrape.release.set()
    answers = [split(read_response(sock)) for sock in others]
    assert len(set(answers)) == 1
    assert answers[0][0] == b"HTTP/1.1 200 OK" and b'test_call{query=""} 1\n' in answers[0][1]
    assert s.scrape.calls == 1
    for sock in others:
        sock.close()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("/scrape?target=a", ""), ("/scrape?target=b", "")),
        (("/metrics", ""), ("/scrape", "")),
        (("/metrics", "Authorization: Basic dTE6cA==\r\n"), ("/metrics", "Authorization: Basic dTI6cA==\r\n")),
        (("/metrics", "Accept-Encoding: gzip\r\n"), ("/metrics", "")),
        (("/metrics", "Accept: application/openmetrics-text\r\n"), ("/metrics", "")),
        (("/metrics", "X-Prometheus-Scrape-Timeout-Seconds: 5\r\n"), ("/metrics", "")),
    ],
)
def test_different_scrapes_collect_on_their_own(served: Callable[..., Served], first: tuple[str, str],
                                                 second: tuple[str, str]) -> None:
    s = served()
    socks = [s.send(*first)]
    wait_for(lambda: s.scrape.calls == 1)
    socks.append(s.send(*second))
    wait_for(lambda: s.scrape.calls == 2)
    assert s.server.shared == 0
    s.scrape.release.set()
    for sock in socks:
        assert split(read_response(sock))[0] == b"HTTP/1.1 200 OK"
        sock.close()


def test_only_scrape_endpoints_share_and_only_when_enabled(served: Callable[..., Served]) -> None:
    s = served()
    landing = HTTPRequest("GET", "/", {"host": "x"}, "1.1", "c")
    scrape = HTTPRequest("GET", "/scrape?target=a", {"host": "x"}, "1.1", "c")
    head = HTTPRequest("HEAD", "/scrape?target=a", {"host": "x"}, "1.1", "c")
    assert s.app.share_key(landing) is None
    assert s.app.share_key(scrape) is not None
    assert s.app.share_key(scrape) != s.app.share_key(head)
    off = served(share=False)
    assert off.app.share_key(scrape) is None


def test_without_sharing_each_scrape_collects(served: Callable[..., Served]) -> None:
    s = served(share=False)
    socks = [s.send() for _ in range(3)]
    wait_for(lambda: s.scrape.calls == 3)
    s.scrape.release.set()
    for sock in socks:
        assert split(read_response(sock))[0] == b"HTTP/1.1 200 OK"
        sock.close()
    assert s.server.shared == 0


@pytest.mark.parametrize(
    ("error", "status"),
    [(RuntimeError("boom"), b"HTTP/1.1 500 Internal Server Error"),
     (HTTPError(503, "target unreachable"), b"HTTP/1.1 503 Service Unavailable")],
)
def test_an_error_goes_to_every_waiter_and_the_next_scrape_retries(
        served: Callable[..., Served], error: Exception, status: bytes) -> None:
    s = served()
    s.scrape.fail = error
    socks = [s.send("/scrape?target=a")]
    wait_for(lambda: s.scrape.calls == 1)
    socks += [s.send("/scrape?target=a") for _ in range(4)]
    wait_for(lambda: s.server.shared == 4)
    s.scrape.release.set()
    answers = [split(read_response(sock)) for sock in socks]
    assert {a[0] for a in answers} == {status} and len({a[1] for a in answers}) == 1
    assert s.scrape.calls == 1
    for sock in socks:
        sock.close()
    s.scrape.fail = None
    answer, body = s.get("/scrape?target=a")
    assert answer == b"HTTP/1.1 200 OK" and b'test_call{query="a"} 2\n' in body
    assert s.scrape.calls == 2
