"""A small RESP2 client with a deadline on every call.

redis_exporter speaks RESP2 (redigo) over TCP, TLS or a unix socket; so does this.
Every socket operation is bounded by ``min(connection timeout, time left before the
scrape deadline)``, so a server that accepts and never answers costs at most the
scrape's budget, never the 15 s upstream waits.

Replies are taken apart by ``ReplyReader`` from whole received buffers, with a one-pass
path for the arrays of bulk strings SCAN and CONFIG GET return: counting a million keys
is then mostly the server's time, not this parser's.

Error messages never contain the password: they are built from the address with its
user information removed and from the server's own reply.
"""

from __future__ import annotations

import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import TypeAlias

Reply: TypeAlias = "bytes | int | list[Reply] | ReplyError | None"

DEFAULT_PORT = 6379


class RedisConnectionError(Exception):
    """The connection failed or timed out; the connection is no longer usable."""


class ReplyError(Exception):
    """An error reply (``-ERR ...``) from the server; the connection stays usable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        """The error's first word (``ERR``, ``NOPERM``, ``WRONGTYPE``...)."""
        return self.message.split(" ", 1)[0]


@dataclass(frozen=True)
class Address:
    """Where and how to connect: from ``redis://``, ``rediss://``, ``unix://`` or ``host:port``."""

    scheme: str  # "redis", "rediss" or "unix"
    host: str = ""
    port: int = DEFAULT_PORT
    path: str = ""
    db: int = 0
    username: str = ""
    password: str = ""

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    def dial_name(self) -> str:
        """``tcp host:port`` or ``unix /path``, as Go's net errors name an endpoint."""
        if self.scheme == "unix":
            return f"unix {self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp {host}:{self.port}"

    def redacted(self) -> str:
        """The address without user information, safe for logs, labels and errors."""
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_address(text: str) -> Address:
    """Parse a ``-redis.addr`` value; a bare ``host:port`` means ``redis://host:port``.

    Raises ``ValueError`` (without the password in the message) when it cannot be used.
    """
    raw = text.strip()
    if "://" not in raw:
        raw = "redis://" + raw
    parts = urllib.parse.urlsplit(raw)
    scheme = parts.scheme.lower()
    username = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    query = urllib.parse.parse_qs(parts.query)
    if scheme == "unix":
        path = parts.path or parts.netloc
        if not path:
            raise ValueError("unix:// address without a socket path")
        db = _db_from(query.get("db", ["0"])[0])
        return Address("unix", path=path, db=db, username=username, password=password)
    if scheme not in ("redis", "rediss"):
        raise ValueError(f"unsupported scheme {scheme!r} (want redis, rediss or unix)")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as err:
        raise ValueError("invalid port in redis address") from err
    host = parts.hostname or "localhost"
    path = parts.path.strip("/")
    db = _db_from(path) if path else _db_from(query.get("db", ["0"])[0])
    return Address(scheme, host=host, port=port, db=db, username=username, password=password)


def _db_from(text: str) -> int:
    try:
        db = int(text)
    except ValueError as err:
        raise ValueError(f"invalid database number {text!r} in redis address") from err
    if db < 0:
        raise ValueError(f"invalid database number {text!r} in redis address")
    return db


@dataclass(frozen=True)
class TLSOptions:
    """The ``-tls-client-*`` / ``-tls-ca-cert-file`` / ``-skip-tls-verification`` flags."""

    client_cert_file: str = ""
    client_key_file: str = ""
    ca_cert_file: str = ""
    skip_verification: bool = False

    def context(self) -> ssl.SSLContext:
        """An SSL context; raises ``OSError``/``ssl.SSLError`` for unreadable files."""
        ctx = ssl.create_default_context(cafile=self.ca_cert_file or None)
        if self.skip_verification:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert_file and self.client_key_file:
            ctx.load_cert_chain(self.client_cert_file, self.client_key_file)
        return ctx


def encode_command(args: tuple[object, ...]) -> bytes:
    """A command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode("utf-8")
        else:
            data = str(arg).encode("ascii")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


@dataclass(frozen=True)
class ReplyLimits:
    """How much a server may send: per reply (``-max-reply-bytes``) and per connection, which
    is per scrape (``-max-scrape-bytes``). Arrays may nest ``max_depth`` deep (Redis's own
    replies to the exporter's commands nest 3 deep at most)."""

    reply_bytes: int = 16 << 20
    scrape_bytes: int = 1 << 30
    max_depth: int = 16


class ReplyTooLarge(ConnectionResetError):
    """A reply over a limit of ``ReplyLimits``; the connection cannot be used further."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class ReplyReader:
    """Takes RESP2 replies apart from the bytes fed to it; pure, no I/O.

    ``feed()`` the bytes received, then call ``next_reply()`` until it returns
    ``INCOMPLETE``. The parse state (the arrays being filled) survives between feeds, so a
    reply that arrives in many pieces is read once, not again from its start, and bytes
    are joined only when there are enough of them for the parse to go on (a long bulk
    string is copied once, not once per received piece).
    """

    def __init__(self, limits: ReplyLimits | None = None) -> None:
        self.limits = limits or ReplyLimits()
        self._buf = b""
        self._pos = 0
        self._chunks: list[bytes] = []
        self._pending = 0  # bytes in _chunks
        self._need = 0  # unparsed bytes required before parsing can go on
        self._stack: list[list[Reply]] = []  # arrays being filled
        self._left: list[int] = []  # elements still missing in each of them

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._pending += len(data)
        if len(self._buf) - self._pos + self._pending >= self._need:
            self._chunks.insert(0, self._buf[self._pos:])
            self._buf = b"".join(self._chunks)
            self._pos = 0
            self._chunks = []
            self._pending = 0

    def next_reply(self) -> Reply | Incomplete:
        """The next complete reply, or ``INCOMPLETE``; raises ``ProtocolError`` on bad input."""
        buf = self._buf
        pos = self._pos
        size = len(buf)
        stack = self._stack
        left = self._left
        find = buf.find
        value: Reply
        try:
            while True:
                end = find(b"\r\n", pos)
                if end < 0:
                    self._need = size - pos + 1
                    break
                kind = buf[pos]
                if kind == 36:  # $: bulk string
                    length = int(buf[pos + 1:end])
                    if length > self.limits.reply_bytes:
                        raise ReplyTooLarge("reply_bytes", f"bulk reply of {length} bytes over the limit "
                                            f"of {self.limits.reply_bytes} (-max-reply-bytes)")
                    if length < 0:
                        value = None
                        pos = end + 2
                    else:
                        stop = end + 2 + length
                        if stop + 2 > size:
                            self._need = stop + 2 - pos
                            break
                        value = buf[end + 2:stop]
                        pos = stop + 2
                elif kind == 42:  # *: array
                    count = int(buf[pos + 1:end])
                    # every element takes 3 bytes at least (":0\r\n" is 4): a longer array
                    # cannot fit in a reply of the allowed size
                    if count > self.limits.reply_bytes // 3:
                        raise ReplyTooLarge("reply_bytes", f"array reply of {count} elements over the limit "
                                            f"of {self.limits.reply_bytes} bytes (-max-reply-bytes)")
                    if len(stack) >= self.limits.max_depth:
                        raise ProtocolError(f"protocol error: arrays nested over {self.limits.max_depth} deep")
                    pos = end + 2
                    run = _bulk_run(buf, pos, count) if count >= _BULK_RUN_MIN else None
                    if run is not None:
                        value, pos = run
                    elif count > 0:
                        stack.append([])
                        left.append(count)
                        continue
                    else:
                        value = None if count < 0 else []
                elif kind == 58:  # :
                    value = int(buf[pos + 1:end])
                    pos = end + 2
                elif kind == 43:  # +
                    value = buf[pos + 1:end]
                    pos = end + 2
                elif kind == 45:  # -
                    value = ReplyError(buf[pos + 1:end].decode("utf-8", "replace"))
                    pos = end + 2
                else:
                    raise ProtocolError(f"protocol error: unexpected reply type {buf[pos:pos + 1]!r}")
                while stack:
                    stack[-1].append(value)
                    left[-1] -= 1
                    if left[-1]:
                        break
                    left.pop()
                    value = stack.pop()
                else:
                    self._pos = pos
                    self._need = 0
                    return value
        except ValueError:
            raise ProtocolError("protocol error: invalid length or integer") from None
        self._pos = pos
        return INCOMPLETE


# "$<length>" for the lengths of most key names: what a bulk string's header must be.
_BULK_HEADS = tuple(b"$%d" % length for length in range(512))
_BULK_RUN_MIN = 32


def _bulk_run(buf: bytes, pos: int, count: int) -> tuple[list[Reply], int] | None:
    """An array of ``count`` bulk strings at ``pos`` (a SCAN or CONFIG GET reply) in one pass.

    Splitting at CRLF and checking that every header is ``$`` and the length of the piece
    after it proves the pieces are exactly what parsing one element at a time would give
    (a piece holding a CRLF of its own would be shorter than its header says). ``None``
    when that does not hold (not all bulk strings, nil, long or CRLF-holding values, not
    all received yet): the caller then parses element by element.
    """
    if buf[pos:pos + 1] != b"$":
        return None
    lines = 2 * count
    parts = buf[pos:].split(b"\r\n", lines)
    if len(parts) <= lines:
        return None
    values = parts[1:lines:2]
    try:
        heads = list(map(_BULK_HEADS.__getitem__, map(len, values)))
    except IndexError:
        return None
    if parts[0:lines:2] != heads:
        return None
    return values, len(buf) - len(parts[-1])  # type: ignore[return-value]  # list[bytes] is list[Reply]


class Incomplete:
    """The type of ``INCOMPLETE``: more bytes are needed for the next reply."""


INCOMPLETE = Incomplete()


class ProtocolError(ConnectionResetError):
    """The server sent something that is not RESP2; the connection cannot be used further."""


class Connection:
    """One RESP2 connection. ``deadline`` is a ``time.monotonic()`` instant or ``None``."""

    def __init__(
        self, sock: socket.socket, address: Address, timeout: float, deadline: float | None,
        limits: ReplyLimits | None = None,
    ) -> None:
        self.limits = limits or ReplyLimits()
        self._sock = sock
        self._reader = ReplyReader(self.limits)
        self.received = 0  # bytes, over the connection's life (one scrape)
        self.limit_hit = ""  # the ReplyLimits field that ended the connection, if one did
        self._sock_timeout: float | None = sock.gettimeout()
        self.address = address
        self.timeout = timeout
        self.deadline = deadline
        self.broken = False

    @classmethod
    def open(
        cls,
        address: Address,
        timeout: float,
        deadline: float | None = None,
        tls: TLSOptions | None = None,
        username: str = "",
        password: str = "",
        limits: ReplyLimits | None = None,
    ) -> Connection:
        """Connect, then AUTH and SELECT as the address and credentials ask."""
        where = address.dial_name()
        try:
            budget = _budget(timeout, deadline)
            if address.scheme == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(budget)
                try:
                    sock.connect(address.path)
                except BaseException:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection((address.host, address.port), timeout=budget)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if address.tls:
                    ctx = (tls or TLSOptions()).context()
                    try:
                        sock = ctx.wrap_socket(sock, server_hostname=address.host)
                    except BaseException:
                        sock.close()
                        raise
        except TimeoutError:
            raise RedisConnectionError(f"dial {where}: i/o timeout") from None
        except (OSError, ssl.SSLError) as err:
            raise RedisConnectionError(f"dial {where}: {_describe(err)}") from None
        conn = cls(sock, address, timeout, deadline, limits)
        try:
            user = address.username or username
            secret = address.password or password
            if secret:
                if user:
                    conn.command("AUTH", user, secret)
                else:
                    conn.command("AUTH", secret)
            if address.db:
                conn.command("SELECT", address.db)
        except ReplyError:
            conn.close()
            raise
        except RedisConnectionError:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def command(self, *args: object) -> Reply:
        """Send one command and read its reply; an error reply raises ``ReplyError``."""
        reply = self.pipeline([args])[0]
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def pipeline(self, commands: list[tuple[object, ...]]) -> list[Reply]:
        """Send several commands at once; error replies are returned, not raised."""
        self.send(commands)
        return [self.receive() for _ in commands]

    def send(self, commands: list[tuple[object, ...]]) -> None:
        """Send commands without waiting; read their replies, in order, with ``receive()``."""
        if self.broken:
            raise RedisConnectionError(f"{self.address.dial_name()}: connection already failed")
        payload = b"".join([encode_command(args) for args in commands])
        try:
            self._set_timeout()
            self._sock.sendall(payload)
        except TimeoutError:
            self.broken = True
            raise RedisConnectionError(f"write {self.address.dial_name()}: i/o timeout") from None
        except (OSError, ssl.SSLError) as err:
            self.broken = True
            raise RedisConnectionError(f"{self.address.dial_name()}: {_describe(err)}") from None

    def receive(self) -> Reply:
        """The next reply of the commands sent; an error reply is returned, not raised."""
        if self.broken:
            raise RedisConnectionError(f"{self.address.dial_name()}: connection already failed")
        reader = self._reader
        try:
            reply = reader.next_reply()
            waited = 0  # bytes received for this reply: it may not need more than the limit
            while isinstance(reply, Incomplete):
                waited += self._fill()
                if waited > self.limits.reply_bytes:
                    raise ReplyTooLarge("reply_bytes", f"reply over the limit of {self.limits.reply_bytes} bytes "
                                        "(-max-reply-bytes)")
                reply = reader.next_reply()
            return reply
        except ReplyTooLarge as err:
            self.broken = True
            self.limit_hit = err.limit
            raise RedisConnectionError(f"{self.address.dial_name()}: {err}") from None
        except TimeoutError:
            self.broken = True
            raise RedisConnectionError(f"read {self.address.dial_name()}: i/o timeout") from None
        except (OSError, ssl.SSLError) as err:
            self.broken = True
            raise RedisConnectionError(f"{self.address.dial_name()}: {_describe(err)}") from None

    def _set_timeout(self) -> None:
        """Bound the next socket operation by the connection timeout and the deadline.

        ``settimeout`` is a system call; it is made only when the bound has to come
        down (the deadline nears) or has grown by more than a second since it was set.
        """
        budget = _budget(self.timeout, self.deadline)
        current = self._sock_timeout
        if current is None or current > budget + 0.05 or current < budget - 1.0:
            self._sock.settimeout(budget)
            self._sock_timeout = budget

    def _fill(self) -> int:
        self._set_timeout()
        chunk = self._sock.recv(_RECV_SIZE)
        if not chunk:
            raise ConnectionResetError("connection closed by server")
        self.received += len(chunk)
        if self.received > self.limits.scrape_bytes:
            raise ReplyTooLarge("scrape_bytes", f"replies over the limit of {self.limits.scrape_bytes} bytes per "
                                "scrape (-max-scrape-bytes)")
        self._reader.feed(chunk)
        return len(chunk)


_RECV_SIZE = 131072


def _budget(timeout: float, deadline: float | None) -> float:
    """Seconds the next socket operation may take; raises when the deadline has passed."""
    budget = timeout if timeout > 0 else 3600.0
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("scrape deadline exceeded")
        budget = min(budget, left)
    return budget


def _describe(err: BaseException) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(err, FileNotFoundError):
        return "connect: no such file or directory"
    if isinstance(err, socket.gaierror):
        return f"lookup failed: {err.strerror or err}"
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text)


def as_text(reply: Reply) -> str:
    """A bulk or status reply as text."""
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    if isinstance(reply, int):
        return str(reply)
    if reply is None:
        return ""
    raise TypeError(f"expected a string reply, got {type(reply).__name__}")
