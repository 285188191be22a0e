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
import logging
import math
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from exporters.core.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    SeriesGuard,
    render_openmetrics,
    render_text,
    wants_openmetrics,
)
from exporters.core.flags import ConfigError
from exporters.core.http import HTTPRequest, HTTPResponse, HTTPServer, ServerLimits, raise_nofile_limit
from exporters.core.listen import Listener, open_listeners
from exporters.core.logs import setup_logging
from exporters.core.metrics import Metric
from exporters.core.selfmetrics import HandlerStats, ProcessMetrics, SeriesDrops, go_build_info
from exporters.core.settings import LogSettings, WebSettings
from exporters.core.webconfig import BasicAuth, RateLimiter, WebConfig, build_ssl_context, load_web_config

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SHUTDOWN_GRACE_SECONDS = 10.0
# gzip level of scrape responses: level 1 costs a third of level 6's CPU, and for an
# exposition its output is still smaller than the Go exporters' (compress/gzip at its default)
GZIP_LEVEL = 1


class Headers(dict[str, str]):
    """Request headers by lower-cased name; lookups ignore case."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)


def gzip_body(body: bytes, level: int = 1) -> bytes:
    """A gzip member as Go's compress/gzip writes one (no file name, mtime 0), via zlib alone."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


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


@dataclass
class Rendered:
    """A scrape's answer already rendered (by a worker process), with its render's ``guard``."""

    response: Response
    guard: SeriesGuard | None = None


def render(metrics: Iterable[Metric], accept: str | None, openmetrics: bool,
           max_series: int) -> tuple[Response, SeriesGuard]:
    """The 200 answer of a scrape in the format asked for, and what its render cut."""
    guard = SeriesGuard(max_series)
    if openmetrics and wants_openmetrics(accept):
        return Response(200, render_openmetrics(metrics, guard), OPENMETRICS_CONTENT_TYPE), guard
    return Response(200, render_text(metrics, guard), TEXT_CONTENT_TYPE), guard


MetricsHandler = Callable[[Request], Iterable[Metric] | Rendered]
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
    log_style: str = "go-kit"

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()


def configure(name: str, web: WebSettings, log: LogSettings) -> Runtime:
    """Set up logging, load ``--web.config.file``, bind the listen addresses; ``ConfigError`` if any fails."""
    try:
        logger = setup_logging(name, log.level, log.format, style=log.style)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    web_config = load_web_config(web.config_file) if web.config_file else WebConfig()
    if web_config.tls.enabled:
        build_ssl_context(web_config)  # unreadable or mismatched files: refuse to start
    listeners = open_listeners(web.listen_addresses, web.systemd_socket)
    return Runtime(logger, web_config, tuple(listeners), log.style)


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
        limits: ServerLimits | None = None,
        promhttp_errors: bool = False,
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
        self.limits = limits or ServerLimits()
        self.telemetry_path = web.telemetry_path
        self.max_requests = web.max_requests
        self.scrape_timeout = web.scrape_timeout
        self.scrape_timeout_offset = web.scrape_timeout_offset
        self.openmetrics = web.openmetrics
        self.stats = HandlerStats(errors=promhttp_errors)
        self.drops = SeriesDrops()
        self.process_metrics = ProcessMetrics()
        self.auth = BasicAuth(self.web_config.users)
        self.rate_limiter: RateLimiter | None = None
        if self.web_config.rate_interval > 0:
            self.rate_limiter = RateLimiter(self.web_config.rate_burst, self.web_config.rate_interval)
        self._limit = threading.BoundedSemaphore(self.max_requests) if self.max_requests > 0 else None

    def close(self) -> None:
        """Run the ``on_close`` hooks; a failing one is logged, the others still run."""
        for close in self.on_close:
            try:
                close()
            except Exception as err:  # noqa: BLE001 - shutting down regardless
                self.logger.warning("error during shutdown", extra={"err": str(err)})

    def deadline_for(self, headers: Mapping[str, str]) -> float | None:
        """The monotonic instant by which a scrape must answer.

        The scraper's header, when it is a positive finite number, capped at
        ``--scrape.max-timeout`` (a header of 1e10 or inf must not make a scrape unbounded);
        anything else (nan, negative, text) falls back to ``--scrape.timeout``.
        """
        timeout = self.scrape_timeout
        header = headers.get(SCRAPE_TIMEOUT_HEADER)
        if header:
            try:
                value = float(header)
            except ValueError:
                value = math.nan
            if value > 0 and math.isfinite(value):
                timeout = value
            elif value == math.inf:
                timeout = self.web.scrape_max_timeout
        if self.web.scrape_max_timeout > 0:
            timeout = min(timeout, self.web.scrape_max_timeout) if timeout > 0 else self.web.scrape_max_timeout
        if timeout <= 0:
            return None
        budget = max(timeout - self.scrape_timeout_offset, timeout / 2)
        return time.monotonic() + budget

    # -- request handling ----------------------------------------------------------

    def self_metrics(self) -> list[Metric]:
        out: list[Metric] = [go_build_info(self.build_info_name or self.upstream)]
        if self.exporter_metrics:
            out.extend(self.process_metrics.collect())
            out.extend(self.stats.collect())
        return out

    def landing_page(self) -> Response:
        import html  # here, not at start: html.entities is ~0.5 MiB resident for a page rarely asked for

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
        self.stats.begin()
        status = 200
        try:
            result = handler(request)
            if isinstance(result, Rendered):  # collected and rendered elsewhere (--scrape.processes)
                if result.guard is not None:
                    self.drops.record(result.guard, self.logger, self.stats)
                status = result.response.status
                return result.response
            metrics = list(result)
            if limited:
                metrics.extend(self.self_metrics())
                metrics.extend(self.drops.collect())
            response, guard = render(metrics, request.headers.get("Accept"), self.openmetrics, self.web.max_series)
            self.drops.record(guard, self.logger, self.stats)
            return response
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

    # -- the HTTP layer's two entry points -------------------------------------------

    def admit(self, http: HTTPRequest) -> tuple[HTTPResponse | None, Callable[[], None] | None]:
        """In the server's loop: ``--web.max-requests`` on every scrape endpoint.

        The telemetry path as node_exporter limits it, and the multi-target endpoints (postgres
        ``/probe``, redis ``/scrape``) too: those make the exporter reach out to a server a
        caller names. A request beyond the limit is answered 503 at once; an admitted one holds
        its slot until its response is written (the release callback).
        """
        if self._limit is None:
            return None, None
        path = urlsplit(http.target).path
        if path != self.telemetry_path and path not in self.metrics_routes:
            return None, None
        if not self._limit.acquire(blocking=False):
            self.stats.answered(503)
            body = f"Limit of concurrent requests reached ({self.max_requests}), try again later.\n".encode()
            return self._http_response(http, Response(503, body)), None
        return None, self._limit.release

    def share_key(self, http: HTTPRequest) -> tuple[str, ...] | None:
        """In the server's loop: what makes two scrapes identical for ``--scrape.share``.

        Everything the answer depends on: method, path and query (the target), the credentials,
        the format and encoding asked for and the scrape timeout. Only scrape endpoints share.
        """
        if not self.web.share_scrapes:
            return None
        path = urlsplit(http.target).path
        if path != self.telemetry_path and path not in self.metrics_routes:
            return None
        headers = http.headers
        return (http.method, http.target, headers.get("authorization", ""), headers.get("accept", ""),
                headers.get("accept-encoding", ""), headers.get(SCRAPE_TIMEOUT_HEADER.lower(), ""))

    def joined(self, http: HTTPRequest, response: HTTPResponse) -> None:
        """In the server's loop: a scrape answered with an identical one's answer counts as served."""
        if response.status not in (401, 429):  # refused before the scrape handler, as the leader was
            self.stats.answered(response.status)

    def handle(self, http: HTTPRequest) -> HTTPResponse:
        """In a worker: rate limit, basic auth, then the route; the response as the server writes it."""
        parts = urlsplit(http.target)
        path = parts.path or "/"
        if self.rate_limiter is not None and not self.rate_limiter.allow():
            response = Response(429, b"Too Many Requests\n")
        elif not self.authorized(http.headers.get("authorization")):
            response = Response(401, b"Unauthorized\n", headers={"WWW-Authenticate": "Basic"})
        elif http.method == "OPTIONS" and http.target == "*":
            response = Response(200, b"", "")
        else:
            headers = Headers(http.headers)
            request = Request(
                method=http.method,
                path=path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=headers,
                deadline=self.deadline_for(headers),
                client=http.client,
            )
            response = self.route(request)
        # the path only: a query string may carry a target with credentials in it
        self.logger.debug("request", extra={"client": http.client, "method": http.method, "path": path,
                                            "code": str(response.status)})
        return self._http_response(http, response)

    def _http_response(self, http: HTTPRequest, response: Response) -> HTTPResponse:
        body = response.body
        headers: list[tuple[str, str]] = []
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        if response.status == 200 and body and "gzip" in http.headers.get("accept-encoding", "").lower():
            body = gzip_body(body, GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        close = False
        for name, value in {**self.web_config.headers, **response.headers}.items():
            if name.lower() == "connection":
                close = value.lower() == "close"
                continue
            headers.append((name, value))
        return HTTPResponse(response.status, body, headers, head_only=http.method == "HEAD", close=close)


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
    raise_nofile_limit()  # as Go's runtime does: connections are bounded by the server's cap instead
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
    return serve(app, stop)


def serve(app: Exporter, stop: threading.Event | None = None) -> int:
    logger = app.logger
    tls = app.web_config.tls.enabled
    server = HTTPServer(
        app.runtime.listeners, app.handle, app.admit, app.limits, share=app.share_key, joined=app.joined,
        ssl_context=build_ssl_context(app.web_config) if tls else None,
        allowed_sans=app.web_config.tls.client_allowed_sans, logger=logger,
    )
    # What start-up built (modules, classes, the collectors) lives as long as the process:
    # keep the cyclic GC from walking it again on every collection during scrapes. The
    # command line (exporters.cli) runs start-up with the GC off; from here on it runs.
    gc.freeze()
    gc.enable()
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: _reload(app))
    server.start()
    logrus = app.runtime.log_style == "logrus"
    if not logrus:  # exporter-toolkit's lines; redis_exporter logs its own before listening
        for listener in app.runtime.listeners:
            logger.info("Listening on", extra={"address": listener.address})
            logger.info("TLS is enabled." if tls else "TLS is disabled.",
                        extra={"http2": "false", "address": listener.address})
    stop.wait()
    if logrus:
        logger.info("Received terminated signal, exiting")
    else:
        logger.info("shutting down: no new connections, waiting for in-flight scrapes")
    server.stop_accepting()
    if not server.wait_idle(SHUTDOWN_GRACE_SECONDS):
        logger.warning("in-flight requests still running at shutdown", extra={"count": server.in_flight})
    server.shutdown()
    app.close()
    logger.info("Server shut down gracefully" if logrus else "stopped")
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
