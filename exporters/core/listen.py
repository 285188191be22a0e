"""Listen addresses as Go writes them, and sockets passed by systemd."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from exporters.core.flags import ConfigError


def parse_listen_address(address: str) -> tuple[str, int]:
    """Split Go's ``host:port`` (``:9100``, ``127.0.0.1:9100``, ``[::1]:9100``)."""
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ConfigError(f"invalid listen address {address!r}: missing port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"invalid listen address {address!r}: IPv6 addresses need brackets")
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"invalid listen address {address!r}: bad port {port_text!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"invalid listen address {address!r}: port out of range")
    return host, port


def systemd_sockets(environ: dict[str, str]) -> list[socket.socket]:
    """Listening sockets passed by systemd socket activation (``LISTEN_FDS``), fd 3 onwards."""
    if environ.get("LISTEN_PID") not in (None, str(os.getpid())):
        raise ConfigError("--web.systemd-socket: LISTEN_PID is not this process")
    try:
        count = int(environ.get("LISTEN_FDS", "0"))
    except ValueError:
        raise ConfigError("--web.systemd-socket: LISTEN_FDS is not a number") from None
    if count < 1:
        raise ConfigError("--web.systemd-socket: no socket activation file descriptors found")
    return [socket.socket(fileno=3 + i) for i in range(count)]


def listen_backlog() -> int:
    """The kernel's ``somaxconn``, as Go's net package takes for every listener."""
    try:
        with open("/proc/sys/net/core/somaxconn", encoding="ascii") as handle:
            value = int(handle.read().strip())
    except (OSError, ValueError):
        return socket.SOMAXCONN
    # the field is 32 bits and listen() caps it anyway; Go limits it to 1<<16-1 too
    return max(1, min(value, 65535))


@dataclass(frozen=True)
class Listener:
    """A bound, listening socket and the address it was asked for (for log lines)."""

    address: str
    sock: socket.socket

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()


def _resolve(host: str, port: int) -> tuple[socket.AddressFamily, str, bool]:
    if host == "":
        if socket.has_ipv6:
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                    probe.bind(("::", 0))
                return socket.AF_INET6, "::", True
            except OSError:
                pass
        return socket.AF_INET, "0.0.0.0", False
    try:
        # bytes for an ASCII name: a str goes through the idna codec (unicodedata, ~0.3 MiB)
        name = host.encode("ascii") if host.isascii() else host
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise ConfigError(f"invalid listen address {host!r}: {err.strerror}") from None
    # Go listens on the first IPv4 address a name resolves to, if any.
    infos.sort(key=lambda info: 0 if info[0] == socket.AF_INET else 1)
    family, _, _, _, sockaddr = infos[0]
    return socket.AddressFamily(family), str(sockaddr[0]), False


def bind(address: str, reuse_port: bool = False) -> Listener:
    """Listen on Go's ``host:port`` (``:port`` is every address, IPv4 and IPv6) with Go's backlog.

    ``reuse_port`` sets SO_REUSEPORT, so several processes can serve one address.
    """
    host, port = parse_listen_address(address)
    family, bind_host, dual_stack = _resolve(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if dual_stack:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((bind_host, port))
        sock.listen(listen_backlog())
    except OSError as err:
        sock.close()
        raise ConfigError(f"cannot listen on {address}: {err.strerror or err}") from None
    return Listener(address, sock)


def open_listeners(addresses: Sequence[str], systemd_socket: bool) -> list[Listener]:
    """Every listen address bound (or systemd's sockets); ``ConfigError`` and nothing open on failure."""
    if systemd_socket:
        return [Listener(str(sock.getsockname()), sock) for sock in systemd_sockets(dict(os.environ))]
    listeners: list[Listener] = []
    try:
        for address in addresses:
            listeners.append(bind(address))
    except ConfigError:
        for listener in listeners:
            listener.close()
        raise
    return listeners
