"""A small blocking D-Bus client for the systemd and logind collectors, built on jeepney.

jeepney (pure Python, no dependencies) does the wire format and the SASL handshake. This
module adds what a collector needs around it:

- one deadline over a whole collection, and a cap on the bytes read from the peer (a
  daemon that stalls or floods costs one collector, never a thread or the process memory);
- systemd's private socket (``--collector.systemd.private``) is a direct connection to
  systemd, not a bus: no ``Hello``, as go-systemd's ``NewSystemdConnection``;
- pipelined calls: a scrape reads a few properties of hundreds of units; ``call_many`` sends
  them in batches and matches replies by serial instead of waiting a round trip for each.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, overload

from jeepney import DBusAddress, HeaderFields, Message, MessageType, Parser, new_method_call
from jeepney.bus import get_connectable_addresses
from jeepney.io.blocking import prep_socket

# Where godbus looks for the system bus (DBUS_SYSTEM_BUS_ADDRESS overrides it).
DEFAULT_SYSTEM_BUS = "unix:path=/var/run/dbus/system_bus_socket"
# go-systemd's NewSystemdConnection: systemd's own socket, root only.
SYSTEMD_PRIVATE = "unix:path=/run/systemd/private"
BUS_NAME = "org.freedesktop.DBus"
SYSTEMD_DESTINATION = "org.freedesktop.systemd1"
# How long to wait for a ping's answer before sending another (see ping_until_answered).
PING_INTERVAL = 0.02
PROPERTIES = "org.freedesktop.DBus.Properties"
# Calls in flight at once: their requests fit in a socket buffer, so sending never waits on
# the peer, which queues its replies until they are read.
BATCH = 64
# Bytes one collection may read. ListUnits of 10,000 units is about 3 MiB.
MAX_READ_BYTES = 64 << 20
RECV_SIZE = 65536


class DBusError(Exception):
    """An error reply (``name``: the D-Bus error name), or a reply of an unexpected shape."""

    def __init__(self, name: str, message: str = "") -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name


@dataclass(frozen=True)
class Call:
    """One method call: ``member`` of ``interface`` on object ``path`` of ``destination``."""

    destination: str
    path: str
    interface: str
    member: str
    signature: str = ""
    body: tuple[Any, ...] = ()

    def message(self) -> Message:
        address = DBusAddress(self.path, bus_name=self.destination, interface=self.interface)
        return new_method_call(address, self.member, self.signature or None, self.body)


def get_property(destination: str, path: str, interface: str, name: str) -> Call:
    """``org.freedesktop.DBus.Properties.Get``: its reply body is one variant."""
    return Call(destination, path, PROPERTIES, "Get", "ss", (interface, name))


def system_bus_address() -> str:
    """The system bus, as godbus finds it: ``DBUS_SYSTEM_BUS_ADDRESS`` or the default socket."""
    return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "") or DEFAULT_SYSTEM_BUS


class DBusConnection:
    """An authenticated connection; every send and receive stops at ``deadline``."""

    def __init__(self, sock: socket.socket, deadline: float, max_bytes: int = MAX_READ_BYTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sock = sock
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.clock = clock
        self.parser = Parser()
        self.bytes_read = 0
        self.serial = 0

    @classmethod
    def open(cls, address: str, *, hello: bool, timeout: float, max_bytes: int = MAX_READ_BYTES,
             clock: Callable[[], float] = time.monotonic) -> DBusConnection:
        """Connect to a D-Bus address (``unix:path=`` or ``unix:abstract=``) and authenticate.

        ``hello``: register on a bus (a bus daemon requires it before any other call).
        """
        deadline = clock() + timeout
        try:
            target = next(get_connectable_addresses(address))
        except (RuntimeError, ValueError) as err:
            raise DBusError("InvalidAddress", f"{address!r}: {err}") from None
        sock = prep_socket(target, timeout=timeout)
        conn = cls(sock, deadline, max_bytes, clock)
        try:
            if hello:
                conn.call(Call(BUS_NAME, "/org/freedesktop/DBus", BUS_NAME, "Hello"))
            else:
                conn.ping_until_answered()
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        self.sock.close()

    def ping_until_answered(self, interval: float = PING_INTERVAL) -> None:
        """Send ``Peer.Ping`` until one is answered: the peer then runs the connection.

        systemd (seen with 252) leaves a message that arrives together with or right after
        the SASL ``BEGIN`` unread until the socket becomes readable again; a ping is
        cheap, and each one sent wakes it up. Replies to earlier pings are ignored later.
        """
        ping = Call(SYSTEMD_DESTINATION, "/", "org.freedesktop.DBus.Peer", "Ping")
        while True:
            self.serial += 1
            self._send(ping.message().serialise(serial=self.serial))
            if self._receive(min(self.clock() + interval, self.deadline)) is not None:
                return

    def __enter__(self) -> DBusConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, call: Call) -> tuple[Any, ...]:
        """One call's reply body; an error reply raises ``DBusError``."""
        result = self.call_many([call])[0]
        if isinstance(result, DBusError):
            raise result
        return result

    def call_many(self, calls: Sequence[Call]) -> list[tuple[Any, ...] | DBusError]:
        """Every call's reply body (or its ``DBusError``), in order; sent ``BATCH`` at a time."""
        results: list[tuple[Any, ...] | DBusError] = []
        for start in range(0, len(calls), BATCH):
            batch = calls[start:start + BATCH]
            serials: dict[int, int] = {}
            data = bytearray()
            for index, call in enumerate(batch):
                self.serial += 1
                serials[self.serial] = index
                data += call.message().serialise(serial=self.serial)
            self._send(bytes(data))
            replies: list[tuple[Any, ...] | DBusError | None] = [None] * len(batch)
            pending = len(batch)
            while pending:
                message = self._receive()
                index_or_none = serials.pop(message.header.fields.get(HeaderFields.reply_serial, -1), None)
                if index_or_none is None:
                    continue  # a signal, or a reply to nothing we sent
                replies[index_or_none] = _reply(message)
                pending -= 1
            results.extend(r for r in replies if r is not None)
        return results

    def _remaining(self) -> float:
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            raise TimeoutError("D-Bus peer did not answer in time")
        return remaining

    def _send(self, data: bytes) -> None:
        self.sock.settimeout(self._remaining())
        self.sock.sendall(data)

    @overload
    def _receive(self) -> Message: ...

    @overload
    def _receive(self, until: float) -> Message | None: ...

    def _receive(self, until: float | None = None) -> Message | None:
        """The next message; with ``until`` (before the deadline), None if none came by then."""
        while True:
            message = self.parser.get_next_message()
            if message is not None:
                return message
            remaining = self._remaining()
            if until is not None:
                remaining = until - self.clock()
                if remaining <= 0:
                    return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(RECV_SIZE)
            except TimeoutError:
                if until is not None:
                    return None
                raise
            if not chunk:
                raise ConnectionResetError("D-Bus peer closed the connection")
            self.bytes_read += len(chunk)
            if self.bytes_read > self.max_bytes:
                raise DBusError("LimitExceeded", f"more than {self.max_bytes} bytes from the D-Bus peer")
            self.parser.add_data(chunk)


def _reply(message: Message) -> tuple[Any, ...] | DBusError:
    if message.header.message_type == MessageType.error:
        name = str(message.header.fields.get(HeaderFields.error_name, "org.freedesktop.DBus.Error.Failed"))
        body = message.body
        return DBusError(name, str(body[0]) if body and isinstance(body[0], str) else "")
    if message.header.message_type != MessageType.method_return:
        return DBusError("UnexpectedReply", f"message type {message.header.message_type}")
    return tuple(message.body)


def variant(body: tuple[Any, ...] | DBusError, signature: str) -> Any:
    """The value of a ``Properties.Get`` reply whose variant has ``signature``."""
    if isinstance(body, DBusError):
        raise body
    if len(body) != 1 or not isinstance(body[0], tuple) or len(body[0]) != 2:
        raise DBusError("UnexpectedReply", "not a variant")
    got, value = body[0]
    if got != signature:
        raise DBusError("UnexpectedReply", f"variant of type {got!r}, expected {signature!r}")
    return value
