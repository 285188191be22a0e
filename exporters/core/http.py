"""The HTTP/1.1 server of the three exporters: one event loop for connections, a few workers for requests.

Connections live in one thread's epoll (or poll) loop, so an idle or trickling connection
costs a socket and a few hundred bytes, never a thread. h11 parses requests; a request whose
head is complete goes to a bounded pool of workers, served in arrival order; the response
comes back to the loop, which writes it. Request bodies are read and discarded (bounded).

Limits, each answered as Go's net/http answers it (status line, text body, then close):
a head larger than Go's ``DefaultMaxHeaderBytes`` (431), a malformed head (400), HTTP
versions other than 1.x (505), a missing ``Host`` on HTTP/1.1 or repeated ``Host`` (400),
a transfer coding other than chunked (501), plain HTTP on a TLS port (400 "Client sent an
HTTP request to an HTTPS server"). Timeouts: a head must arrive within ``header_timeout``,
a kept-alive connection idles at most ``idle_timeout``, a response must drain within
``write_timeout``. Connections beyond ``max_connections`` get a 503 and are closed.

The loop sleeps in epoll until a socket is ready or the next connection deadline:
with no connection open it never wakes. TLS runs through ``ssl.MemoryBIO`` (ssl is
imported only when a TLS context is given). The listening sockets are handed in, so
several processes can serve one address with SO_REUSEPORT (``listen.bind``).
"""

from __future__ import annotations

import heapq
import logging
import queue
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import h11

from exporters.core.listen import Listener

if TYPE_CHECKING:
    import ssl

# Go's http.DefaultMaxHeaderBytes plus the 4096 bytes of slack its server allows
MAX_HEAD_BYTES = (1 << 20) + 4096
_RECV_BYTES = 65536
# first bytes of a plain HTTP request on a TLS port (Go's tlsRecordHeaderLooksLikeHTTP)
_PLAIN_HTTP_PREFIXES = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")
PLAIN_HTTP_ON_TLS = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


@dataclass(frozen=True)
class ServerLimits:
    """How much the server lets connections and requests take."""

    # open connections; one more is answered 503 and closed (0: from RLIMIT_NOFILE)
    max_connections: int = 0
    # threads serving requests; more requests wait in arrival order
    workers: int = 16
    header_timeout: float = 60.0
    idle_timeout: float = 120.0
    write_timeout: float = 60.0
    # request bodies are read and thrown away up to this size; a larger one closes the connection
    max_body_bytes: int = 1 << 20
    max_head_bytes: int = MAX_HEAD_BYTES

    def connection_cap(self) -> int:
        if self.max_connections > 0:
            return self.max_connections
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY:
            return 65536
        # keep descriptors for collectors, database and Redis connections, log files
        return max(16, int(soft) - max(64, int(soft) // 8))


@dataclass
class HTTPRequest:
    """A request as the loop hands it to a worker."""

    method: str
    target: str
    headers: dict[str, str]  # names lower-cased; repeated headers joined with ", "
    version: str
    client: str


@dataclass
class HTTPResponse:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    head_only: bool = False
    close: bool = False


Handler = Callable[[HTTPRequest], HTTPResponse]
# Run in the loop thread when a request's head is complete: a response to answer at once
# (a 503 for a limit) or None to queue the request for a worker, plus a release callback.
Admit = Callable[[HTTPRequest], tuple[HTTPResponse | None, Callable[[], None] | None]]
# Run in the loop thread when a request's head is complete: the key under which requests
# identical to it share one response, or None to serve it on its own (see ``_Flight``).
ShareKey = Callable[[HTTPRequest], tuple[str, ...] | None]
# Run in the loop thread for each request answered with another's response.
Joined = Callable[[HTTPRequest, HTTPResponse], None]


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def go_error(status: int, detail: str = "", body: str | None = None) -> bytes:
    """An error response as Go's net/http writes one before closing the connection."""
    text = f"{status} {reason(status)}" + (f": {detail}" if detail else "")
    return (f"HTTP/1.1 {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
            f"{text if body is None else body}").encode("latin-1", "replace")


_date_cache: tuple[int, bytes] = (0, b"")


def http_date(now: float | None = None) -> bytes:
    """The ``Date`` header's value (RFC 7231 IMF-fixdate), computed once a second."""
    global _date_cache
    second = int(time.time() if now is None else now)
    if _date_cache[0] != second:
        t = time.gmtime(second)
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[t.tm_wday]
        month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[t.tm_mon - 1]
        _date_cache = (second, f"{day}, {t.tm_mday:02d} {month} {t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:"
                               f"{t.tm_sec:02d} GMT".encode())
    return _date_cache[1]


def check_request_line(buffer: bytes) -> tuple[int, str] | None:
    """What Go answers to a request line h11 would wait on or misjudge: (status, detail) or None.

    Looks at the first line only once it is complete: no version at all (HTTP/0.9) is 400 at
    once, as Go answers without waiting for headers; ``HTTP/d.d`` with a major version other
    than 1 is 505.
    """
    end = buffer.find(b"\n")
    if end < 0:
        return None
    line = buffer[:end].rstrip(b"\r")
    parts = line.split(b" ")
    if len(parts) != 3:
        return (400, "") if line else None
    version = parts[2]
    if (len(version) == 8 and version.startswith(b"HTTP/") and version[5:6].isdigit() and version[6:7] == b"."
            and version[7:8].isdigit() and version[5:6] != b"1"):
        return 505, "unsupported protocol version"
    return None


class _Flight:
    """One request being served and the identical requests that arrived meanwhile.

    Requests join while the leader's handler has not returned; once it has, the next
    identical request starts a flight of its own: no response outlives its request.
    """

    __slots__ = ("done", "key", "waiters")

    def __init__(self, key: tuple[str, ...]) -> None:
        self.key = key
        self.waiters: list[tuple[_Conn, HTTPRequest]] = []
        self.done = False  # set by the worker when the handler returns


class _Poller:
    """Which descriptors are ready: epoll where the kernel has it, else poll(2).

    Unlike ``selectors`` it keeps no key object per descriptor (80 bytes and a dict entry
    each); the server maps descriptors to connections itself.
    """

    READ = select.POLLIN
    WRITE = select.POLLOUT
    FAILED = select.POLLERR | select.POLLHUP  # reported whether asked for or not

    def __init__(self, epoll: bool = True) -> None:
        self._epoll = select.epoll() if epoll and hasattr(select, "epoll") else None
        self._poll = select.poll() if self._epoll is None else None
        self._ops: Any = self._epoll if self._epoll is not None else self._poll

    def register(self, fd: int, mask: int) -> None:
        self._ops.register(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        self._ops.modify(fd, mask)

    def unregister(self, fd: int) -> None:
        self._ops.unregister(fd)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        """(descriptor, events) ready within ``timeout`` seconds (None: until one is)."""
        if self._epoll is not None:
            return self._epoll.poll(-1 if timeout is None else timeout)
        assert self._poll is not None
        return self._poll.poll(None if timeout is None else int(timeout * 1000) + 1)

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()


class _TLS:
    """A connection's TLS state: an ``ssl.SSLObject`` over two ``MemoryBIO``s."""

    __slots__ = ("incoming", "outgoing", "ready", "sslobj", "started")

    def __init__(self, context: ssl.SSLContext) -> None:
        import ssl

        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.started = False  # the first bytes were looked at (plain HTTP on a TLS port)
        self.ready = False  # handshake done


def head_complete(buffer: bytes, start: int) -> bool:
    """Whether a request head ends in ``buffer`` (looking from ``start`` on, less the 3 bytes before it)."""
    start = max(0, start - 3)
    return buffer.find(b"\n\r\n", start) >= 0 or buffer.find(b"\n\n", start) >= 0


class _Conn:
    """One client connection, owned by the loop thread.

    A connection that has sent nothing, or sits idle between kept-alive requests, holds no
    parser: the h11 state is made when a request head is complete (until then its bytes wait
    in ``head``) and dropped again once its response is written. Thousands of idle or
    trickling connections then cost little more than their sockets.
    """

    __slots__ = ("busy", "closing", "deadline", "discarded", "eof", "events", "fd", "flight", "h11", "head", "idle",
                 "line_checked", "pending", "release", "sock", "tls")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()  # -1 once closed
        self.h11: h11.Connection | None = None  # a request is being read or answered
        self.head = b""  # the start of a request head, before it is parsed
        self.pending: bytes | bytearray = b""  # bytes to write (a bytearray once partly written)
        self.busy = False  # a worker (or admit) has its request
        self.closing = False  # close once the request is answered and ``pending`` written
        self.eof = False  # the peer is done sending: read no more
        self.idle = False  # kept alive between requests (idle timeout, not header timeout)
        self.events = 0  # what the poller watches for
        self.deadline = 0.0
        self.line_checked = False
        self.discarded = 0  # body bytes read and thrown away
        self.release: Callable[[], None] | None = None
        self.flight: _Flight | None = None  # the flight this connection's request leads
        self.tls: Any = None  # a _TLS on a TLS port

    @property
    def open(self) -> bool:
        return self.fd >= 0

    def __lt__(self, other: _Conn) -> bool:
        """Any order between connections with the same deadline (in the timer heap)."""
        return id(self) < id(other)

    @property
    def addr(self) -> str:
        """The client's address, asked of the socket when needed rather than kept per connection."""
        try:
            peer = self.sock.getpeername()
        except OSError:
            return ""
        return str(peer[0]) if isinstance(peer, tuple) and peer else "unix"


class HTTPServer:
    """Serves ``handler`` on ``listeners`` until ``shutdown``; see the module docstring."""

    def __init__(
        self,
        listeners: Sequence[Listener],
        handler: Handler,
        admit: Admit | None = None,
        limits: ServerLimits = ServerLimits(),
        share: ShareKey | None = None,
        joined: Joined | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allowed_sans: Sequence[str] | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.listeners = list(listeners)
        self.handler = handler
        self.admit = admit
        self.share = share
        self.joined = joined
        self.limits = limits
        self.ssl_context = ssl_context
        self.allowed_sans = list(allowed_sans) if allowed_sans is not None else None
        self.logger = logger or logging.getLogger("exporters")
        self.clock = clock
        self.max_connections = limits.connection_cap()
        self._poller = _Poller()
        self._listening: dict[int, Listener] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._done: deque[tuple[_Conn, HTTPResponse]] = deque()
        # every read lands here first (loop thread only): no 64 KiB allocation per read
        self._buffer = memoryview(bytearray(_RECV_BYTES))
        self._flights: dict[tuple[str, ...], _Flight] = {}
        self._conns: dict[int, _Conn] = {}  # by descriptor
        self._timers: list[tuple[float, _Conn]] = []
        self._jobs: queue.SimpleQueue[tuple[_Conn, HTTPRequest] | None] = queue.SimpleQueue()
        self._workers = 0
        self._idle_workers = 0
        self._workers_lock = threading.Lock()
        self._in_flight = 0
        self._in_flight_cond = threading.Condition()
        self._stop = False
        self._accepting = True
        self._thread: threading.Thread | None = None
        self.refused = 0  # connections answered 503 at the cap
        self.shared = 0  # requests answered with an identical request's response

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> None:
        for listener in self.listeners:
            listener.sock.setblocking(False)
            self._listening[listener.sock.fileno()] = listener
            self._poller.register(listener.sock.fileno(), _Poller.READ)
        self._poller.register(self._wake_r.fileno(), _Poller.READ)
        self._thread = threading.Thread(target=self._loop, name="http", daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # a wake-up is pending already, or the loop is gone

    def stop_accepting(self) -> None:
        """Close the listeners; open connections go on."""
        self._accepting = False
        self._wake()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is queued or running; False if ``timeout`` passed first."""
        end = time.monotonic() + timeout
        with self._in_flight_cond:
            while self._in_flight > 0:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._in_flight_cond.wait(remaining)
        return True

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def connections(self) -> int:
        return len(self._conns)

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def loop_thread_id(self) -> int | None:
        """The event loop thread's kernel id (for its wake-up count in /proc)."""
        return self._thread.native_id if self._thread is not None else None

    def shutdown(self) -> None:
        """Stop the loop and close every socket (after ``wait_idle`` for a graceful stop)."""
        self._stop = True
        self._wake()
        if self._thread is not None:
            self._thread.join(10)
        with self._workers_lock:
            for _ in range(self._workers):
                self._jobs.put(None)

    # -- the loop ------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._stop:
                if not self._accepting and self.listeners:
                    for fd, listener in self._listening.items():
                        self._poller.unregister(fd)
                        listener.close()
                    self._listening.clear()
                    self.listeners = []
                wake = self._wake_r.fileno()
                for fd, mask in self._poller.poll(self._next_timeout()):
                    conn = self._conns.get(fd)
                    if conn is not None:
                        if mask & (_Poller.WRITE | _Poller.FAILED):
                            self._flush(conn)
                        if mask & (_Poller.READ | _Poller.FAILED) and conn.open:
                            self._read(conn)
                    elif fd == wake:
                        self._drain_wake()
                    elif fd in self._listening:
                        self._accept(self._listening[fd])
                self._expire()
        except Exception as err:  # noqa: BLE001 - logged, then the loop ends
            self.logger.error("http server loop failed", extra={"err": f"{type(err).__name__}: {err}"})
        finally:
            for conn in list(self._conns.values()):
                self._close(conn)
            for listener in self.listeners:
                listener.close()
            self._poller.close()
            self._wake_r.close()
            self._wake_w.close()

    def _next_timeout(self) -> float | None:
        timers = self._timers
        while timers:
            deadline, conn = timers[0]
            if conn.open and conn.deadline == deadline:
                return max(0.0, deadline - self.clock())
            heapq.heappop(timers)  # stale: the connection moved on or closed
        return None  # nothing due: sleep until a socket is ready

    def _set_deadline(self, conn: _Conn, seconds: float | None) -> None:
        if seconds is None:
            conn.deadline = 0.0
            return
        conn.deadline = self.clock() + seconds
        heapq.heappush(self._timers, (conn.deadline, conn))

    def _expire(self) -> None:
        now = self.clock()
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, conn = heapq.heappop(timers)
            if conn.open and conn.deadline == deadline:
                self.logger.debug("closing a connection at its timeout", extra={"client": conn.addr})
                self._close(conn)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass
        while self._done:
            conn, response = self._done.popleft()
            self._answer(conn, response)

    def _answer(self, conn: _Conn, response: HTTPResponse) -> None:
        """A request's response is ready: write it, and to every request that shared it."""
        flight, conn.flight = conn.flight, None
        self._finish_request(conn)
        if conn.open:
            self._respond(conn, response)
        if flight is None:
            return
        flight.done = True
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]
        for waiter, request in flight.waiters:
            self._finish_request(waiter)
            if self.joined is not None:
                self.joined(request, response)
            if waiter.open:
                self._respond(waiter, response)

    # -- connections ---------------------------------------------------------------

    def _accept(self, listener: Listener) -> None:
        for _ in range(64):  # a burst of connects is taken in one go
            try:
                sock, _ = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # EMFILE and friends: the kernel keeps the rest queued
                self.logger.warning("cannot accept connections", extra={"err": err.strerror or str(err)})
                return
            sock.setblocking(False)
            if len(self._conns) >= self.max_connections:
                self.refused += 1
                try:
                    sock.send(go_error(503, "too many open connections"))
                except OSError:
                    pass
                sock.close()
                continue
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            if self.ssl_context is not None:
                conn.tls = _TLS(self.ssl_context)
            self._conns[conn.fd] = conn
            self._update_events(conn)
            self._set_deadline(conn, self.limits.header_timeout)

    def _close(self, conn: _Conn) -> None:
        if not conn.open:
            return
        del self._conns[conn.fd]
        if conn.events:
            self._poller.unregister(conn.fd)
            conn.events = 0
        conn.fd = -1
        conn.sock.close()

    def _update_events(self, conn: _Conn) -> None:
        """Watch for reading unless the peer is done sending, for writing while bytes wait."""
        reading = not conn.eof and conn.discarded <= self.limits.max_body_bytes
        wanted = (_Poller.READ if reading else 0) | (_Poller.WRITE if conn.pending else 0)
        if wanted == conn.events:
            return
        if conn.events == 0:
            self._poller.register(conn.fd, wanted)
        elif wanted == 0:
            self._poller.unregister(conn.fd)
        else:
            self._poller.modify(conn.fd, wanted)
        conn.events = wanted

    def _read(self, conn: _Conn) -> None:
        try:
            size = conn.sock.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        data = bytes(self._buffer[:size])
        if not data:
            conn.eof = True
            self._update_events(conn)
            if conn.tls is not None and not conn.tls.ready:
                self._close(conn)
            else:
                self._feed(conn, b"")
            return
        if conn.tls is not None:
            if not conn.tls.ready:
                self._handshake(conn, data)
                return
            plain = self._decrypt(conn, data)
            if not plain:
                return
            data = plain
        self._feed(conn, data)

    # -- TLS -----------------------------------------------------------------------

    def _handshake(self, conn: _Conn, data: bytes) -> None:
        import ssl

        if not conn.tls.started:
            conn.tls.started = True
            if data.startswith(_PLAIN_HTTP_PREFIXES):
                self._write_and_close(conn, PLAIN_HTTP_ON_TLS)
                return
        conn.tls.incoming.write(data)
        try:
            conn.tls.sslobj.do_handshake()
        except ssl.SSLWantReadError:
            self._send_tls_output(conn)
            return
        except (ssl.SSLError, OSError) as err:
            self.logger.debug("TLS handshake failed", extra={"client": conn.addr, "err": str(err)})
            conn.closing = True
            self._send_tls_output(conn)  # the alert, then close
            self._close(conn)
            return
        self._send_tls_output(conn)
        if self.allowed_sans is not None and not self._sans_allowed(conn):
            self._close(conn)
            return
        conn.tls.ready = True
        plain = self._decrypt(conn, b"")
        if plain:
            self._feed(conn, plain)

    def _sans_allowed(self, conn: _Conn) -> bool:
        cert = conn.tls.sslobj.getpeercert()
        if not cert:
            return False
        sans = [str(entry[1]) for entry in cert.get("subjectAltName", ()) if len(entry) == 2]
        return any(san in (self.allowed_sans or []) for san in sans)

    def _decrypt(self, conn: _Conn, data: bytes) -> bytes | None:
        """Plain bytes from TLS records (b"" when no record is complete yet); None once closed."""
        import ssl

        if data:
            conn.tls.incoming.write(data)
        out = bytearray()
        while True:
            try:
                chunk = conn.tls.sslobj.read(_RECV_BYTES)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLError, OSError):
                self._close(conn)
                return None
            if not chunk:  # close_notify: the peer is done sending
                conn.eof = True
                self._update_events(conn)
                if out:
                    self._feed(conn, bytes(out))
                self._feed(conn, b"")
                return None
            out += chunk
        self._send_tls_output(conn)
        return bytes(out)

    def _send_tls_output(self, conn: _Conn) -> None:
        data = conn.tls.outgoing.read()
        if data:
            conn.pending += data
            self._flush(conn)

    # -- requests ------------------------------------------------------------------

    def _parser(self, conn: _Conn) -> h11.Connection:
        if conn.h11 is None:
            conn.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head_bytes)
        return conn.h11

    def _feed(self, conn: _Conn, data: bytes) -> None:
        if not conn.open:
            return
        if data and conn.idle:
            conn.idle = False  # a new request began: its head must come within the header timeout
            self._set_deadline(conn, self.limits.header_timeout)
        if data and not conn.line_checked and (conn.h11 is None or conn.h11.their_state is h11.IDLE):
            buffered = (conn.head if conn.h11 is None else bytes(conn.h11.trailing_data[0])) + data
            if b"\n" in buffered:
                conn.line_checked = True
                problem = check_request_line(buffered)
                if problem is not None:
                    self._write_and_close(conn, go_error(*problem))
                    return
        if conn.h11 is None and data:
            head = conn.head + data
            if not head_complete(head, len(conn.head)) and len(head) <= self.limits.max_head_bytes:
                conn.head = head  # no parser until the head is complete (or too large: h11 answers 431)
                return
            conn.head, data = b"", head
        elif conn.h11 is None:  # the peer is done sending, between requests
            if conn.head:
                self._write_and_close(conn, go_error(400))  # in the middle of a head, as h11 would answer
            elif conn.pending:
                conn.closing = True
            else:
                self._close(conn)
            return
        if conn.discarded > self.limits.max_body_bytes:
            return
        h = self._parser(conn)
        try:
            h.receive_data(data)
        except RuntimeError:  # bytes after the peer's EOF
            return
        self._events(conn)

    def _events(self, conn: _Conn) -> None:
        h = self._parser(conn)
        while conn.open:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as err:
                self._protocol_error(conn, err)
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._request(conn, event)
            elif isinstance(event, h11.Data):
                conn.discarded += len(event.data)
                if conn.discarded > self.limits.max_body_bytes:
                    # read no more of it: the connection closes after the response
                    conn.closing = True
                    self._update_events(conn)
                    if not conn.busy and not conn.pending:
                        self._close(conn)
                    return
            elif isinstance(event, h11.EndOfMessage):
                if not conn.busy and h.our_state is h11.DONE:
                    self._next_cycle(conn)
            elif isinstance(event, h11.ConnectionClosed):
                if not conn.busy and not conn.pending:
                    self._close(conn)
                return

    def _protocol_error(self, conn: _Conn, err: h11.RemoteProtocolError) -> None:
        if conn.busy or self._parser(conn).our_state is not h11.IDLE:
            # a broken body after the request was taken: answer that request, then close
            conn.closing = True
            if not conn.busy and not conn.pending:
                self._close(conn)
            return
        status = err.error_status_hint
        text = str(err).lower()
        if status == 501:
            self._write_and_close(conn, go_error(501, body="Unsupported transfer encoding"))
        elif "host" in text and "missing" in text:
            self._write_and_close(conn, go_error(400, "missing required Host header"))
        elif text.startswith("illegal header line") and ":" in text.partition(":")[2]:
            self._write_and_close(conn, go_error(400, "invalid header name"))
        else:
            self._write_and_close(conn, go_error(status))

    def _request(self, conn: _Conn, event: h11.Request) -> None:
        headers: dict[str, str] = {}
        for name, value in event.headers:  # h11 refuses a repeated Host, as Go does
            key = name.decode("latin-1")
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        request = HTTPRequest(event.method.decode("latin-1"), event.target.decode("latin-1"), headers,
                              event.http_version.decode("ascii"), conn.addr)
        conn.busy = True
        conn.discarded = 0
        self._set_deadline(conn, None)  # a scrape has its own deadline
        with self._in_flight_cond:
            self._in_flight += 1
        share_key = self.share(request) if self.share is not None else None
        if share_key is not None:
            flight = self._flights.get(share_key)
            if flight is not None and not flight.done:
                flight.waiters.append((conn, request))  # no worker, no admission: it costs nothing
                self.shared += 1
                return
            conn.flight = self._flights[share_key] = _Flight(share_key)
        if self.admit is not None:
            response, conn.release = self.admit(request)
            if response is not None:
                self._answer(conn, response)
                return
        self._submit(conn, request)

    def _finish_request(self, conn: _Conn) -> None:
        release, conn.release = conn.release, None
        if release is not None:
            release()
        with self._in_flight_cond:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._in_flight_cond.notify_all()

    # -- workers -------------------------------------------------------------------

    def _submit(self, conn: _Conn, request: HTTPRequest) -> None:
        self._jobs.put((conn, request))
        with self._workers_lock:
            if self._idle_workers > 0:
                self._idle_workers -= 1
                return
            if self._workers >= self.limits.workers:
                return  # queued: the next free worker takes it, in arrival order
            self._workers += 1
            number = self._workers
        threading.Thread(target=self._work, name=f"http-worker-{number}", daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            conn, request = job
            try:
                response = self.handler(request)
            except Exception as err:  # noqa: BLE001 - one request must not take a worker down
                self.logger.error("error serving a request", extra={"err": f"{type(err).__name__}: {err}"})
                response = HTTPResponse(500, b"500 Internal Server Error\n",
                                        [("Content-Type", "text/plain; charset=utf-8")])
            if request.method == "HEAD":
                response.head_only = True
            if conn.flight is not None:
                conn.flight.done = True  # later identical requests start their own
            with self._workers_lock:
                self._idle_workers += 1
            self._done.append((conn, response))
            self._wake()

    # -- writing -------------------------------------------------------------------

    def _respond(self, conn: _Conn, response: HTTPResponse) -> None:
        """Write a request's response (in the loop thread)."""
        conn.busy = False
        h = self._parser(conn)
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
        headers.append((b"Date", http_date()))
        headers.append((b"Content-Length", str(len(response.body)).encode()))
        if response.close or conn.closing:
            headers.append((b"Connection", b"close"))
        try:
            out = h.send(h11.Response(status_code=response.status, headers=headers,
                                      reason=reason(response.status).encode())) or b""
            if not response.head_only and response.body:
                out += h.send(h11.Data(data=response.body)) or b""
            out += h.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as err:
            self.logger.debug("cannot send a response", extra={"client": conn.addr, "err": str(err)})
            self._close(conn)
            return
        if h.our_state is h11.MUST_CLOSE or response.close:
            conn.closing = True
        self._write(conn, out)
        if not conn.open or conn.closing:
            return
        if h.their_state is h11.DONE:
            self._next_cycle(conn)
        elif not conn.pending:
            self._set_deadline(conn, self.limits.write_timeout)  # the rest of the body must come

    def _next_cycle(self, conn: _Conn) -> None:
        h = self._parser(conn)
        try:
            h.start_next_cycle()
        except h11.LocalProtocolError:
            conn.closing = True
            self._flush(conn)
            return
        conn.line_checked = False
        conn.idle = True
        if not conn.pending:
            self._set_deadline(conn, self.limits.idle_timeout)
        if h.trailing_data[0]:
            conn.idle = False
            self._set_deadline(conn, self.limits.header_timeout)
            self._events(conn)  # a pipelined request
        elif not h.trailing_data[1]:
            conn.h11 = None  # idle between requests: the next bytes start a fresh parser

    def _write(self, conn: _Conn, data: bytes) -> None:
        if conn.tls is not None:
            conn.tls.sslobj.write(data)
            conn.pending += conn.tls.outgoing.read()
        else:
            conn.pending += data
        self._flush(conn)

    def _write_and_close(self, conn: _Conn, data: bytes) -> None:
        """Answer without h11 (a protocol error) and close once written."""
        conn.closing = True
        if conn.tls is not None and conn.tls.ready:
            self._write(conn, data)
        else:
            conn.pending += data
            self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        if not conn.open:
            return
        while conn.pending:
            try:
                sent = conn.sock.send(conn.pending)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._close(conn)
                return
            if sent == len(conn.pending):
                conn.pending = b""  # nothing held while the connection idles
                break
            if isinstance(conn.pending, bytes):
                conn.pending = bytearray(conn.pending)  # the rest goes out in pieces: drop sent bytes in place
            del conn.pending[:sent]
        self._update_events(conn)
        if conn.pending:
            self._set_deadline(conn, self.limits.write_timeout)
        elif conn.closing and not conn.busy:
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self._close(conn)
        elif conn.idle and not conn.busy:
            self._set_deadline(conn, self.limits.idle_timeout)


def raise_nofile_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit, as Go's runtime does at start; the new (soft, hard)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft, hard
