"""HTTP(S) listeners: one threaded server per ``--web.listen-address``.

TLS handshakes happen in the connection's own thread, so a slow or silent client holds
only its thread, never the accept loop.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporters.core.cli import ConfigError

HANDSHAKE_TIMEOUT = 10.0


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


class ExporterHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server for one listen address, optionally with TLS."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: str,
        handler: type[BaseHTTPRequestHandler],
        ssl_context: ssl.SSLContext | None = None,
        allowed_sans: list[str] | None = None,
        app: Any = None,
        inherited: socket.socket | None = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.allowed_sans = allowed_sans
        self.app = app
        self.display_address = address
        if inherited is not None:
            # systemd socket activation: the listening socket is already bound and listening
            self.address_family = socket.AddressFamily(inherited.family)
            self._dual_stack = False
            super().__init__(inherited.getsockname()[:2], handler, bind_and_activate=False)
            self.socket.close()
            self.socket = inherited
            return
        host, port = parse_listen_address(address)
        family, bind_host, dual_stack = self._resolve(host, port)
        self.address_family = family
        self._dual_stack = dual_stack
        super().__init__((bind_host, port), handler, bind_and_activate=False)
        try:
            self.server_bind()
            self.server_activate()
        except OSError:
            self.server_close()
            raise

    @staticmethod
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
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as err:
            raise ConfigError(f"invalid listen address {host!r}: {err.strerror}") from None
        # Go listens on the first IPv4 address a name resolves to, if any.
        infos.sort(key=lambda info: 0 if info[0] == socket.AF_INET else 1)
        family, _, _, _, sockaddr = infos[0]
        return socket.AddressFamily(family), str(sockaddr[0]), False

    def server_bind(self) -> None:
        if self._dual_stack:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    @property
    def port(self) -> int:
        return int(self.socket.getsockname()[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls_sock = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            if self.allowed_sans is not None and not self._sans_allowed(tls_sock):
                return
            super().finish_request(tls_sock, client_address)
        finally:
            try:
                tls_sock.close()
            except OSError:
                pass

    def _sans_allowed(self, tls_sock: ssl.SSLSocket) -> bool:
        cert = tls_sock.getpeercert()
        if not cert:
            return False
        sans = [str(entry[1]) for entry in cert.get("subjectAltName", ()) if len(entry) == 2]
        return any(san in (self.allowed_sans or []) for san in sans)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-response is not worth a traceback on stderr.
        if self.app is not None:
            self.app.logger.debug("connection error", extra={"client": str(client_address[0])})


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


def serve_in_thread(server: ExporterHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name=f"http-{server.display_address}", daemon=True)
    thread.start()
    return thread
