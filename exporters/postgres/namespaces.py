"""Namespaces as collectors: upstream's built-in namespaces, the queries file's, and pg_static.

A namespace is one query and a ``MetricMap`` (``engine.py``); its families carry the
``server`` label and ``--constantLabels``. Built-in namespaces pick their query by server
version (``default_metrics.for_version``) and run read-only; a queries file's run in the session's
default access mode, as upstream runs them.

``cache_seconds``: the result is kept that long per server. A refresh runs on its own
connection in the background, bounded by its own statement timeout, so a query slower
than the scrape deadline still finishes and is served from the next scrape on (upstream
effectively does the same: its scrape is not cancelled).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from exporters.core.metrics import Metric, exact_untyped
from exporters.postgres.connection import ConnectError, DeadlineExceeded, Result, Statement, Target
from exporters.postgres.engine import NoDataError, QueryFailed, Server
from exporters.postgres.queries import Namespace
from exporters.postgres.versions import format_version, parse_version_string

VERSION_QUERY = "SELECT version()"
# a background refresh may run at least this long, whatever cache_seconds says
MIN_REFRESH_SECONDS = 10.0


class NamespaceCollector:
    """One namespace: its statement, then its families."""

    def __init__(self, ns: Namespace, logger: logging.Logger, builtin: bool = False) -> None:
        self.name = ns.name
        self.ns = ns
        self.logger = logger
        self.builtin = builtin

    def query(self, server: Server) -> str | None:
        return self.ns.query if self.ns.runs_on(server.version) else None

    def statements(self, server: Server) -> list[Statement]:
        query = self.query(server)
        return [] if query is None else [Statement(query, read_only=self.builtin)]

    def collect(self, results: Sequence[Result], server: Server) -> Iterable[Metric]:
        if not results:
            raise NoDataError("not run on this server (version or runonserver)")
        result = results[0]
        if not result.ok:
            raise QueryFailed(f"error running query of namespace {self.name}: {result.error}")
        return self.ns.metrics.build(result, server.version, server.labels, self.logger, server.deadline)


class StaticCollector:
    """``pg_static``: the server's version string."""

    name = "pg_static"

    def statements(self, server: Server) -> list[Statement]:
        return [Statement(VERSION_QUERY)]

    def collect(self, results: Sequence[Result], server: Server) -> Iterable[Metric]:
        result = results[0]
        if not result.ok or not result.rows:
            raise QueryFailed(result.error or "version() returned no row")
        text = str(result.rows[0][0])
        version = parse_version_string(text) or server.version
        names = sorted({*server.labels, "version", "short_version"})
        values = {**server.labels, "version": text, "short_version": format_version(version)}
        fam = exact_untyped("pg_static", "Version string as reported by postgres", names)
        fam.add_metric([values[n] for n in names], 1.0)
        return [fam]


class _Entry:
    __slots__ = ("done", "families", "refreshed", "running")

    def __init__(self) -> None:
        self.refreshed = -1.0
        self.families: list[Metric] | None = None
        self.running = False
        self.done = threading.Event()


class ResultCache:
    """``cache_seconds``: families per (server, namespace), refreshed in the background."""

    def __init__(self, logger: logging.Logger, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def fresh(self, key: tuple[str, str], seconds: float) -> list[Metric] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.families is None or self.clock() - entry.refreshed > seconds:
                return None
            return entry.families

    def refresh(
        self, key: tuple[str, str], target: Target, collector: NamespaceCollector, server: Server,
    ) -> threading.Event:
        """Start a refresh unless one is running; the event is set when it ends."""
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            if entry.running:
                return entry.done
            entry.running = True
            entry.done = threading.Event()
            done = entry.done
        thread = threading.Thread(target=self._run, args=(key, entry, target, collector, server),
                                  name=f"pg-cache-{collector.name}", daemon=True)
        thread.start()
        return done

    def latest(self, key: tuple[str, str]) -> list[Metric] | None:
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry.families

    def _run(self, key: tuple[str, str], entry: _Entry, target: Target, collector: NamespaceCollector,
             server: Server) -> None:
        started = self.clock()
        limit = max(MIN_REFRESH_SECONDS, collector.ns.cache_seconds)
        try:
            background = Server(server.version, server.labels, time.monotonic() + limit)
            results = target.run(collector.statements(background), background.deadline)
            families = list(collector.collect(results, background))
            with self._lock:
                entry.families, entry.refreshed = families, started
        except (ConnectError, DeadlineExceeded, QueryFailed, NoDataError) as err:
            self.logger.error("cached query failed", extra={
                "namespace": collector.name, "target": target.dsn.display(), "err": str(err)})
        except Exception as err:  # noqa: BLE001 - a background thread must not die silently
            self.logger.error("cached query failed", extra={
                "namespace": collector.name, "err": f"{type(err).__name__}: {err}"})
        finally:
            target.close()
            with self._lock:
                entry.running = False
            entry.done.set()
