"""HTTP(S) listeners: one threaded server per ``--web.listen-address``.

TLS handshakes happen in the connection's own thread, so a slow or silent client holds
only its thread, never the accept loop.
"""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporters.core.listen import Listener

HANDSHAKE_TIMEOUT = 10.0


class ExporterHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server for one listen address, optionally with TLS."""

    daemon_threads = True

    def __init__(
        self,
        listener: Listener,
        handler: type[BaseHTTPRequestHandler],
        ssl_context: ssl.SSLContext | None = None,
        allowed_sans: list[str] | None = None,
        app: Any = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.allowed_sans = allowed_sans
        self.app = app
        self.display_address = listener.address
        sock = listener.sock
        self.address_family = socket.AddressFamily(sock.family)
        super().__init__(sock.getsockname()[:2], handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock

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


def serve_in_thread(server: ExporterHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name=f"http-{server.display_address}", daemon=True)
    thread.start()
    return thread
