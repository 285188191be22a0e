"""A small RESP2 client with a deadline on every call.

redis_exporter speaks RESP2 (redigo) over TCP, TLS or a unix socket; so does this.
Every socket operation is bounded by ``min(connection timeout, time left before the
scrape deadline)``, so a server that accepts and never answers costs at most the
scrape's budget, never the 15 s upstream waits.

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


class Connection:
    """One RESP2 connection. ``deadline`` is a ``time.monotonic()`` instant or ``None``."""

    def __init__(self, sock: socket.socket, address: Address, timeout: float, deadline: float | None) -> None:
        self._sock = sock
        self._buf = bytearray()
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
        conn = cls(sock, address, timeout, deadline)
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
        if self.broken:
            raise RedisConnectionError(f"{self.address.dial_name()}: connection already failed")
        payload = b"".join(encode_command(args) for args in commands)
        try:
            self._sock.settimeout(_budget(self.timeout, self.deadline))
            self._sock.sendall(payload)
            return [self._read_reply() for _ in commands]
        except TimeoutError:
            self.broken = True
            raise RedisConnectionError(f"read {self.address.dial_name()}: i/o timeout") from None
        except (OSError, ssl.SSLError) as err:
            self.broken = True
            raise RedisConnectionError(f"{self.address.dial_name()}: {_describe(err)}") from None

    def _fill(self) -> None:
        self._sock.settimeout(_budget(self.timeout, self.deadline))
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed by server")
        self._buf.extend(chunk)

    def _read_line(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 2]
                return line
            self._fill()

    def _read_exact(self, size: int) -> bytes:
        while len(self._buf) < size + 2:
            self._fill()
        data = bytes(self._buf[:size])
        del self._buf[: size + 2]
        return data

    def _read_reply(self) -> Reply:
        line = self._read_line()
        if not line:
            raise ConnectionResetError("empty reply line")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return ReplyError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._read_exact(size)
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._read_reply() for _ in range(count)]
        raise ConnectionResetError(f"protocol error: unexpected reply type {kind!r}")


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
