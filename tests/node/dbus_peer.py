"""A D-Bus peer under the test's control, at the socket boundary, for fault tests.

It does the server side of the SASL handshake, then hands every method call it receives to
``answer``, which returns the bytes to send back (a reply, garbage, nothing).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from jeepney import Message, Parser, new_method_return

Answer = Callable[[Message, int], bytes]


def reply(message: Message, signature: str | None = None, body: tuple[object, ...] = (), serial: int = 1) -> bytes:
    out: bytes = new_method_return(message, signature, body).serialise(serial=serial)
    return out


def _serve(conn: socket.socket, answer: Answer) -> None:
    with conn:
        buffer = b""
        ok_sent = False
        while b"BEGIN\r\n" not in buffer:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
            if not ok_sent and b"AUTH" in buffer and buffer.endswith(b"\r\n"):
                conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
                ok_sent = True
        parser = Parser()
        parser.add_data(buffer.split(b"BEGIN\r\n", 1)[1])
        count = 0
        while True:
            message = parser.get_next_message()
            if message is None:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                parser.add_data(chunk)
                continue
            count += 1
            data = answer(message, count)
            if data:
                try:
                    conn.sendall(data)
                except OSError:
                    return


@contextmanager
def dbus_peer(directory: Path, answer: Answer) -> Iterator[str]:
    """A listening peer; yields its D-Bus address. Each connection is served by ``answer``."""
    path = directory / "bus.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(4)
    server.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=_serve, args=(conn, answer), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"unix:path={path}"
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)
