"""The exporter application: routes, scrape handling and the process lifecycle.

Each exporter's ``main`` ends with ``run(prog, name, settings, make_app)``: ``settings`` builds
the exporter's typed settings from its flags and environment, ``run`` sets up logging, loads
``--web.config.file`` and binds the listen addresses (a ``Runtime``), then ``make_app`` turns
settings and runtime into a complete ``Exporter``. A configuration error at any stage is one
line with exit code 1; otherwise the app serves until SIGTERM/SIGINT and then shuts down
gracefully (in-flight scrapes may finish, bounded).
"""

from __future__ import annotations

import base64
import binascii
import gc
import gzip
import html
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from prometheus_client.metrics_core import Metric

from exporters.core.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    render_openmetrics,
    render_text,
    wants_openmetrics,
)
from exporters.core.flags import ConfigError
from exporters.core.listen import Listener, open_listeners
from exporters.core.logs import setup_logging
from exporters.core.selfmetrics import HandlerStats, ProcessMetrics, build_info
from exporters.core.server import ExporterHTTPServer, serve_in_thread
from exporters.core.settings import LogSettings, WebSettings
from exporters.core.webconfig import BasicAuth, RateLimiter, WebConfig, build_ssl_context, load_web_config

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SHUTDOWN_GRACE_SECONDS = 10.0
# gzip level of scrape responses: level 1 costs a third of level 6's CPU, and for an
# exposition its output is still smaller than the Go exporters' (compress/gzip at its default)
GZIP_LEVEL = 1


def _reason(status: int) -> str:
    phrase = BaseHTTPRequestHandler.responses.get(status)
    return phrase[0] if phrase else ""


class HTTPError(Exception):
    """Raised by a handler to answer with ``status`` and a plain-text ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    deadline: float | None
    client: str = ""

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


MetricsHandler = Callable[[Request], Iterable[Metric]]
RouteHandler = Callable[[Request], Response]


class AppSettings(Protocol):
    """What ``run`` needs of an exporter's settings."""

    @property
    def web(self) -> WebSettings: ...

    @property
    def log(self) -> LogSettings: ...


SettingsT = TypeVar("SettingsT", bound=AppSettings)


@dataclass(frozen=True)
class Runtime:
    """What every exporter's construction starts from: logger, web config, bound listeners."""

    logger: logging.Logger
    web_config: WebConfig
    listeners: tuple[Listener, ...] = ()

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()


def configure(name: str, web: WebSettings, log: LogSettings) -> Runtime:
    """Set up logging, load ``--web.config.file``, bind the listen addresses; ``ConfigError`` if any fails."""
    try:
        logger = setup_logging(name, log.level, log.format)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    web_config = load_web_config(web.config_file) if web.config_file else WebConfig()
    if web_config.tls.enabled:
        build_ssl_context(web_config)  # unreadable or mismatched files: refuse to start
    listeners = open_listeners(web.listen_addresses, web.systemd_socket)
    return Runtime(logger, web_config, tuple(listeners))


class Exporter:
    """One exporter's web application, complete when constructed.

    ``metrics`` serves the telemetry path (with the exporter's own metrics added and
    ``web.max_requests`` applied); ``metrics_routes`` are further scrape endpoints
    (``/probe``, ``/scrape``), ``routes`` plain handlers. ``on_close`` runs at shutdown,
    ``on_reload`` on SIGHUP.
    """

    def __init__(
        self,
        *,
        name: str,
        upstream: str,
        title: str,
        web: WebSettings,
        runtime: Runtime,
        metrics: MetricsHandler | None = None,
        metrics_routes: Mapping[str, MetricsHandler] | None = None,
        routes: Mapping[str, RouteHandler] | None = None,
        links: Sequence[tuple[str, str]] = (),
        on_close: Sequence[Callable[[], None]] = (),
        on_reload: Sequence[Callable[[], None]] = (),
        exporter_metrics: bool = True,
        description: str = "",
        build_info_name: str | None = None,
    ) -> None:
        self.name = name
        self.upstream = upstream
        self.title = title
        self.description = description
        self.web = web
        self.logger = runtime.logger
        self.web_config = runtime.web_config
        self.runtime = runtime
        self.metrics = metrics
        self.metrics_routes: Mapping[str, MetricsHandler] = dict(metrics_routes or {})
        self.routes: Mapping[str, RouteHandler] = dict(routes or {})
        self.links = tuple(links)
        self.on_close = tuple(on_close)
        self.on_reload = tuple(on_reload)
        self.exporter_metrics = exporter_metrics
        self.build_info_name = build_info_name
        self.telemetry_path = web.telemetry_path
        self.max_requests = web.max_requests
        self.scrape_timeout = web.scrape_timeout
        self.scrape_timeout_offset = web.scrape_timeout_offset
        self.openmetrics = web.openmetrics
        self.stats = HandlerStats()
        self.process_metrics = ProcessMetrics()
        self.auth = BasicAuth(self.web_config.users)
        self.rate_limiter: RateLimiter | None = None
        if self.web_config.rate_interval > 0:
            self.rate_limiter = RateLimiter(self.web_config.rate_burst, self.web_config.rate_interval)
        self._limit = threading.BoundedSemaphore(self.max_requests) if self.max_requests > 0 else None
        self.in_flight = 0
        self._in_flight_lock = threading.Lock()
        self._idle = threading.Condition(self._in_flight_lock)

    def close(self) -> None:
        """Run the ``on_close`` hooks; a failing one is logged, the others still run."""
        for close in self.on_close:
            try:
                close()
            except Exception as err:  # noqa: BLE001 - shutting down regardless
                self.logger.warning("error during shutdown", extra={"err": str(err)})

    def deadline_for(self, headers: Mapping[str, str]) -> float | None:
        """The monotonic instant by which a scrape must answer."""
        timeout = self.scrape_timeout
        header = headers.get(SCRAPE_TIMEOUT_HEADER)
        if header:
            try:
                value = float(header)
                if value > 0:
                    timeout = value
            except ValueError:
                pass
        if timeout <= 0:
            return None
        budget = max(timeout - self.scrape_timeout_offset, timeout / 2)
        return time.monotonic() + budget

    # -- request handling ----------------------------------------------------------

    def track(self, delta: int) -> None:
        with self._idle:
            self.in_flight += delta
            if self.in_flight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._idle:
            while self.in_flight > 0:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def self_metrics(self) -> list[Metric]:
        out: list[Metric] = [build_info(self.build_info_name or self.upstream)]
        if self.exporter_metrics:
            out.extend(self.process_metrics.collect())
            out.extend(self.stats.collect())
        return out

    def landing_page(self) -> Response:
        links = [(self.telemetry_path, "Metrics"), *self.links]
        items = "\n".join(
            f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>' for href, text in links
        )
        body = (
            "<!DOCTYPE html>\n<html>\n<head><meta charset=\"UTF-8\"><title>"
            f"{html.escape(self.title)}</title></head>\n<body>\n<h1>{html.escape(self.title)}</h1>\n"
            f"<p>{html.escape(self.description)}</p>\n<ul>\n{items}\n</ul>\n</body>\n</html>\n"
        )
        return Response(200, body.encode(), "text/html; charset=UTF-8")

    def scrape(self, request: Request, handler: MetricsHandler, limited: bool) -> Response:
        acquired = False
        if limited and self._limit is not None:
            acquired = self._limit.acquire(blocking=False)
            if not acquired:
                return Response(503, f"Limit of concurrent requests reached ({self.max_requests}), "
                                     "try again later.\n".encode())
        self.stats.begin()
        status = 200
        try:
            metrics = list(handler(request))
            if limited:
                metrics.extend(self.self_metrics())
            if self.openmetrics and wants_openmetrics(request.headers.get("Accept")):
                return Response(200, render_openmetrics(metrics), OPENMETRICS_CONTENT_TYPE)
            return Response(200, render_text(metrics), TEXT_CONTENT_TYPE)
        except HTTPError as err:
            status = err.status
            return Response(err.status, (err.message + "\n").encode())
        except Exception as err:  # noqa: BLE001 - one bad scrape must not kill the server
            status = 500
            self.logger.error("error gathering metrics", extra={"path": request.path,
                                                                  "err": f"{type(err).__name__}: {err}"})
            return Response(500, b"An error has occurred while serving metrics.\n")
        finally:
            self.stats.end(status)
            if acquired and self._limit is not None:
                self._limit.release()

    def route(self, request: Request) -> Response:
        if request.path == self.telemetry_path and self.metrics is not None:
            return self.scrape(request, self.metrics, limited=True)
        if request.path in self.metrics_routes:
            return self.scrape(request, self.metrics_routes[request.path], limited=False)
        if request.path in self.routes:
            try:
                return self.routes[request.path](request)
            except HTTPError as err:
                return Response(err.status, (err.message + "\n").encode())
        if request.path == "/":
            return self.landing_page()
        return Response(404, b"404 page not found\n")

    def authorized(self, header: str | None) -> bool:
        if not self.auth.enabled:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and self.auth.check(user, password)


def make_handler(app: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY as Go sets it: without it a kept-alive scrape waits ~40 ms for a
        # delayed ACK between the header and body writes.
        disable_nagle_algorithm = True
        timeout = 120  # idle keep-alive connections are closed after this

        def version_string(self) -> str:
            return "exporters"

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # the path only: a query string may carry a target with credentials in it
            app.logger.debug("request", extra={"client": self.client_address[0], "method": self.command,
                                               "path": urlsplit(self.path).path, "code": str(code)})

        def log_message(self, format: str, *args: Any) -> None:
            app.logger.debug("http server", extra={"client": self.client_address[0]})

        def _send(self, response: Response, head_only: bool = False) -> None:
            body = response.body
            headers = dict(response.headers)
            if (
                response.status == 200
                and len(body) > 0
                and "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
            ):
                body = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
                headers["Content-Encoding"] = "gzip"
            self.log_request(response.status)
            if self.request_version == "HTTP/0.9":  # no status line and no headers in 0.9
                if not head_only:
                    self.wfile.write(body)
                return
            # status line, headers and body in one write: one syscall, one segment train
            lines = [
                f"{self.protocol_version} {response.status} {_reason(response.status)}\r\n",
                f"Server: {self.version_string()}\r\n",
                f"Date: {self.date_time_string()}\r\n",
                f"Content-Type: {response.content_type}\r\n",
                f"Content-Length: {len(body)}\r\n",
            ]
            for name, value in {**app.web_config.headers, **headers}.items():
                lines.append(f"{name}: {value}\r\n")
                if name.lower() == "connection" and value.lower() in ("close", "keep-alive"):
                    self.close_connection = value.lower() == "close"
            lines.append("\r\n")
            head = "".join(lines).encode("latin-1", "strict")
            self.wfile.write(head if head_only else head + body)

        def _handle(self, head_only: bool = False) -> None:
            app.track(1)
            try:
                if app.rate_limiter is not None and not app.rate_limiter.allow():
                    self._send(Response(429, b"Too Many Requests\n"), head_only)
                    return
                if not app.authorized(self.headers.get("Authorization")):
                    self._send(Response(401, b"Unauthorized\n",
                                        headers={"WWW-Authenticate": 'Basic realm="exporters"'}), head_only)
                    return
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path or "/",
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k: v for k, v in self.headers.items()},
                    deadline=app.deadline_for({k: v for k, v in self.headers.items()}),
                    client=str(self.client_address[0]),
                )
                self._send(app.route(request), head_only)
            finally:
                app.track(-1)

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_HEAD(self) -> None:
            self._handle(head_only=True)

    return Handler


def fail(prog: str, message: str) -> int:
    """Print a one-line error and give the exit code for bad configuration."""
    sys.stderr.write(f"{prog}: error: {message}\n")
    return 1


def run(
    prog: str,
    name: str,
    settings: Callable[[], SettingsT],
    make_app: Callable[[SettingsT, Runtime], Exporter],
    stop: threading.Event | None = None,
) -> int:
    """Settings, runtime, app; then serve until SIGTERM/SIGINT (or ``stop``). The exit code."""
    try:
        built = settings()
        runtime = configure(name, built.web, built.log)
    except (ConfigError, ValueError) as err:
        return fail(prog, str(err))
    try:
        app = make_app(built, runtime)
    except (ConfigError, ValueError) as err:
        runtime.close()
        return fail(prog, str(err))
    handler = make_handler(app)
    sans = app.web_config.tls.client_allowed_sans
    servers = [ExporterHTTPServer(listener, handler, _ssl_context(app), sans, app) for listener in runtime.listeners]
    return serve(app, servers, stop)


def _ssl_context(app: Exporter) -> Any:
    return build_ssl_context(app.web_config) if app.web_config.tls.enabled else None


def serve(app: Exporter, servers: list[ExporterHTTPServer], stop: threading.Event | None = None) -> int:
    logger = app.logger
    # What start-up built (modules, classes, the collectors) lives as long as the process:
    # keep the cyclic GC from walking it again on every collection during scrapes.
    gc.freeze()
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: _reload(app))
    for server in servers:
        serve_in_thread(server)
        logger.info("Listening on", extra={"address": server.display_address,
                                           "tls": "enabled" if server.ssl_context else "disabled"})
    stop.wait()
    logger.info("shutting down: no new connections, waiting for in-flight scrapes")
    for server in servers:
        server.shutdown()
    _close_all(servers)
    if not app.wait_idle(SHUTDOWN_GRACE_SECONDS):
        logger.warning("in-flight requests still running at shutdown", extra={"count": app.in_flight})
    app.close()
    logger.info("stopped")
    return 0


def _reload(exporter: Exporter) -> None:
    exporter.logger.info("reloading on SIGHUP")
    for reload in exporter.on_reload:
        threading.Thread(target=_safe, args=(exporter, reload), daemon=True).start()


def _safe(exporter: Exporter, func: Callable[[], None]) -> None:
    try:
        func()
    except Exception as err:  # noqa: BLE001 - a failed reload keeps the running config
        exporter.logger.error("reload failed", extra={"err": str(err)})


def _close_all(servers: list[ExporterHTTPServer]) -> None:
    for server in servers:
        server.server_close()
