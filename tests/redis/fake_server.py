"""A scripted RESP server: answers commands from a table, for replies real servers rarely give."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping

Handler = Callable[[list[bytes]], bytes]


def bulk(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(*items: bytes) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


def error(message: str) -> bytes:
    return f"-{message}\r\n".encode()


def integer(value: int) -> bytes:
    return b":%d\r\n" % value


OK = b"+OK\r\n"


class FakeRedis:
    """Listens on 127.0.0.1; ``replies`` maps an upper-cased command line prefix to a reply.

    The longest matching prefix wins ("CONFIG GET" before "CONFIG"); unknown commands get
    an ERR reply. Every command received is recorded in ``commands``.
    """

    def __init__(self, replies: Mapping[str, bytes | Handler]) -> None:
        self.replies = dict(replies)
        self.commands: list[list[bytes]] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> FakeRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _reply(self, command: list[bytes]) -> bytes:
        line = " ".join(part.decode(errors="replace") for part in command).upper()
        best = ""
        for prefix in self.replies:
            if (line == prefix or line.startswith(prefix + " ")) and len(prefix) > len(best):
                best = prefix
        if not best:
            return error(f"ERR unknown command '{command[0].decode(errors='replace')}'")
        reply = self.replies[best]
        return reply(command) if callable(reply) else reply

    def _client(self, conn: socket.socket) -> None:
        buf = b""
        conn.settimeout(5)
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while True:
                    parsed = _parse_command(buf)
                    if parsed is None:
                        break
                    command, buf = parsed
                    self.commands.append(command)
                    try:
                        conn.sendall(self._reply(command))
                    except OSError:
                        return


def _parse_command(buf: bytes) -> tuple[list[bytes], bytes] | None:
    """One RESP array of bulk strings from the front of ``buf``; None when incomplete."""
    if not buf.startswith(b"*"):
        return None
    end = buf.find(b"\r\n")
    if end < 0:
        return None
    count = int(buf[1:end])
    pos = end + 2
    parts: list[bytes] = []
    for _ in range(count):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        size = int(buf[pos + 1:end])
        start = end + 2
        if len(buf) < start + size + 2:
            return None
        parts.append(buf[start:start + size])
        pos = start + size + 2
    return parts, buf[pos:]
