"""One scrape of one or more PostgreSQL servers: upstream's ``Exporter`` plus its collectors.

Per server (``server`` label ``host:port``): ``pg_static``, ``pg_settings_*``, the
built-in namespaces and the queries file's namespaces. On the first server only (as
upstream): the ``collector/`` table with ``pg_scrape_collector_*``. Then the exporter's
own ``pg_up``, ``pg_exporter_*`` families, which carry ``--constantLabels``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric, exact_counter, exact_gauge, exact_untyped
from exporters.core.runner import CollectorRunner
from exporters.postgres import default_metrics
from exporters.postgres.collectors import SPECS, PgContext, TableCollector, builtin_families
from exporters.postgres.connection import ConnectError, DeadlineExceeded, Session, Target
from exporters.postgres.dsn import Dsn
from exporters.postgres.namespaces import NamespaceCollector, NamespaceError
from exporters.postgres.queries import Namespace, QueriesError, QueryFile, load_queries
from exporters.postgres.settings import QUERY as SETTINGS_QUERY
from exporters.postgres.settings import read_settings, settings_metrics
from exporters.postgres.versions import Version, format_version, parse_version_string

SPEC_NAMES = tuple(spec.name for spec in SPECS)
VERSION_QUERY = "SELECT version()"
DISCOVER_QUERY = (
    "SELECT datname FROM pg_database WHERE datallowconn = true AND datistemplate = false "
    "AND datname != current_database()"
)


@dataclass(frozen=True)
class Options:
    """The flags that shape a scrape."""

    disable_default_metrics: bool = False
    disable_settings_metrics: bool = False
    auto_discover_databases: bool = False
    include_databases: tuple[str, ...] = ()
    exclude_databases: tuple[str, ...] = ()
    constant_labels: Mapping[str, str] = field(default_factory=dict)
    metric_prefix: str = "pg"
    connect_timeout: float = 5.0


def prefixed(ns: Namespace, prefix: str) -> Namespace:
    """``--metric-prefix``: upstream replaces the first "pg" of every namespace name."""
    if prefix == "pg":
        return ns
    return replace(ns, name=ns.name.replace("pg", prefix, 1))


class QueriesState:
    """The queries file in use; a failed reload keeps the previous one and flags the error."""

    def __init__(self, path: str, logger: logging.Logger, collectors: Sequence[str] | None = None) -> None:
        self.path = path
        self.logger = logger
        # families of these collectors are reserved (None: every collector)
        self.collectors = list(SPEC_NAMES if collectors is None else collectors)
        self.current: QueryFile | None = None
        self.error = False
        self.hashsum = ""
        self._lock = threading.Lock()

    @staticmethod
    def load_file(path: str, collectors: Sequence[str] | None = None) -> QueryFile:
        enabled = SPEC_NAMES if collectors is None else collectors
        return load_queries(
            path,
            reserved=default_metrics.reserved_families() | builtin_families(enabled),
            reserved_prefixes=("pg_settings_",),
            overridable=[ns.name for ns in default_metrics.NAMESPACES],
        )

    def load(self) -> None:
        """Load at start: errors propagate (the exporter refuses to start)."""
        loaded = self.load_file(self.path, self.collectors)
        with self._lock:
            self.current, self.error, self.hashsum = loaded, False, loaded.sha256
        self.logger.info("loaded queries file", extra={"file": self.path, "namespaces": len(loaded.namespaces)})

    def reload(self) -> None:
        """On SIGHUP: keep the old file if the new one is bad."""
        try:
            loaded = self.load_file(self.path, self.collectors)
        except QueriesError as err:
            try:
                with open(self.path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            except OSError:
                digest = ""
            with self._lock:
                self.error, self.hashsum = True, digest
            self.logger.error("failed to reload queries file, keeping the previous one", extra={"err": str(err)})
            return
        with self._lock:
            self.current, self.error, self.hashsum = loaded, False, loaded.sha256
        self.logger.info("reloaded queries file", extra={"file": self.path, "namespaces": len(loaded.namespaces)})

    def namespaces(self) -> tuple[Namespace, ...]:
        with self._lock:
            return self.current.namespaces if self.current is not None else ()

    def metric(self, const_labels: Mapping[str, str]) -> Metric:
        names = sorted({*const_labels, "filename", "hashsum"})
        fam = exact_gauge(
            "pg_exporter_user_queries_load_error",
            "Whether the user queries file was loaded and parsed successfully (1 for error, 0 for success).",
            names,
        )
        values = {**const_labels, "filename": self.path, "hashsum": self.hashsum}
        fam.add_metric([values[n] for n in names], 1.0 if self.error else 0.0)
        return fam


class TargetCollectors:
    """The ``collector/`` table bound to one target: a context and a runner."""

    def __init__(self, specs: Sequence[CollectorSpec[PgContext]], options: Options, logger: logging.Logger) -> None:
        self.context = PgContext(options.exclude_databases)
        self.collectors = {spec.name: spec.factory(self.context) for spec in specs}
        # one connection per target: collectors take turns on it
        self.runner = CollectorRunner("pg", self.collectors, logger, parallel=False, help_prefix="postgres_exporter")

    def statements(self, version: Version) -> list[tuple[str, list[Any]]]:
        """The queries the collectors will run, where known in advance (see ``Session.prefetch``)."""
        out = []
        for collector in self.collectors.values():
            planned = collector.statement(version) if isinstance(collector, TableCollector) else None
            if planned is not None:
                out.append(planned)
        return out

    def collect(self, session: Session, deadline: float | None) -> list[Metric]:
        self.context.session = session
        try:
            return self.runner.collect(deadline)
        finally:
            self.context.session = None

    def close(self) -> None:
        self.runner.close()


class PostgresExporter:
    """Scrapes a fixed set of DSNs (``/metrics``) or one probed target (``/probe``)."""

    def __init__(
        self,
        dsns: Sequence[Dsn],
        options: Options,
        queries: QueriesState | None,
        specs: Sequence[CollectorSpec[PgContext]],
        logger: logging.Logger,
    ) -> None:
        self.options = options
        self.queries = queries
        self.logger = logger
        self.namespaces = NamespaceCollector(logger)
        self.targets = [Target(d, logger, options.connect_timeout) for d in dsns]
        # base DSN -> database name -> target (--auto-discover-databases)
        self.discovered: dict[str, dict[str, Target]] = {}
        self.collectors = TargetCollectors(specs, options, logger) if self.targets else None
        self.scrapes_total = 0
        self.last_duration = 0.0
        self.last_error = 0.0
        self.up = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        for target in [*self.targets, *(t for known in self.discovered.values() for t in known.values())]:
            target.close()
        if self.collectors is not None:
            self.collectors.close()

    # -- one scrape ---------------------------------------------------------------

    def collect(self, deadline: float | None) -> list[Metric]:
        begin = time.monotonic()
        with self._lock:
            self.scrapes_total += 1
        out: list[Metric] = []
        errors = 0
        connection_errors = 0
        scraped = 0
        for index, target in enumerate(self.targets):
            names, ok, failed = self._scrape_target(target, True, deadline, out, index == 0)
            scraped += 1
            errors += failed
            connection_errors += 0 if ok else 1
            if ok and self.options.auto_discover_databases:
                for extra in self._discovered_targets(target, names):
                    _, ok_extra, failed_extra = self._scrape_target(extra, False, deadline, out, False)
                    scraped += 1
                    errors += failed_extra
                    connection_errors += 0 if ok_extra else 1
        up = 0.0 if connection_errors >= scraped else 1.0
        with self._lock:
            self.up = up
            self.last_error = 1.0 if errors else 0.0
            self.last_duration = time.monotonic() - begin
        out.extend(self.self_metrics())
        return out

    def _discovered_targets(self, base: Target, names: list[str]) -> list[Target]:
        """Targets for the databases found on ``base``; those no longer found are closed."""
        include = set(self.options.include_databases)
        exclude = set(self.options.exclude_databases)
        base_key = base.dsn.conninfo()
        known = self.discovered.setdefault(base_key, {})
        wanted = {n for n in names if n not in exclude and (not include or n in include)}
        for name in list(known):
            if name not in wanted:
                known.pop(name).close()
        for name in sorted(wanted - set(known)):
            known[name] = Target(base.dsn.with_params(dbname=name), self.logger, self.options.connect_timeout)
        return [known[name] for name in sorted(known)]

    def _scrape_target(
        self, target: Target, master: bool, deadline: float | None, out: list[Metric], with_collectors: bool
    ) -> tuple[list[str], bool, int]:
        """Scrape one server into ``out``: (databases to discover, connected, error count)."""
        try:
            with target.session(deadline) as session:
                discovered: list[str] = []
                session.prefetch(self._planned(session, master, with_collectors))
                # built-ins first: a slow custom query must not starve them of the deadline
                errors = self._scrape_server(session, target, master, out, builtin=True)
                if with_collectors and self.collectors is not None:
                    out.extend(self.collectors.collect(session, deadline))
                errors += self._scrape_server(session, target, master, out, builtin=False)
                if master and self.options.auto_discover_databases:
                    try:
                        discovered = [str(r[0]) for r in session.query(DISCOVER_QUERY).rows]
                    except Exception as err:  # noqa: BLE001 - discovery failing costs only the other databases
                        errors += 1
                        self.logger.error("error querying databases", extra={
                            "target": target.dsn.display(), "err": target.dsn.redact(str(err))})
                return discovered, True, errors
        except (ConnectError, DeadlineExceeded) as err:
            self.logger.error("error opening connection to database", extra={
                "target": target.dsn.display(), "err": target.dsn.redact(str(err))})
            return [], False, 1

    def _planned(self, session: Session, master: bool, with_collectors: bool) -> list[tuple[str, list[Any]]]:
        """The built-in queries this scrape of a server runs, in order. The queries file's
        are left out: their cost is unknown, and they run one by one under the deadline."""
        out: list[tuple[str, list[Any]]] = []
        if not self.options.disable_default_metrics and master:
            out.append((VERSION_QUERY, []))
            if not self.options.disable_settings_metrics:
                out.append((SETTINGS_QUERY, []))
        out.extend((ns.query, []) for ns in self._namespaces_for(session, master, True) if ns.cache_seconds <= 0)
        if with_collectors and self.collectors is not None:
            out.extend(self.collectors.statements(session.version))
        return out

    def server_labels(self, target: Target) -> dict[str, str]:
        return {"server": target.server, **self.options.constant_labels}

    def _scrape_server(self, session: Session, target: Target, master: bool, out: list[Metric], builtin: bool) -> int:
        """The default metrics (``builtin``) or the queries file's namespaces; the error count."""
        labels = self.server_labels(target)
        chosen = self._namespaces_for(session, master, builtin)
        errors = 0
        defaults = builtin and not self.options.disable_default_metrics and master
        if defaults:
            try:
                out.append(self._static(session, labels))
            except Exception as err:  # noqa: BLE001 - reported like any failed query
                errors += 1
                self._log_query_error(target, "pg_static", err)
        if defaults and not self.options.disable_settings_metrics:
            try:
                families, problems = settings_metrics(read_settings(session), labels)
                out.extend(families)
                for problem in problems:
                    self.logger.warning(problem, extra={"target": target.dsn.display()})
            except Exception as err:  # noqa: BLE001
                errors += 1
                self._log_query_error(target, "pg_settings", err)
        server_key = target.dsn.conninfo() if any(ns.cache_seconds > 0 for ns in chosen) else target.server
        for ns in chosen:
            try:
                out.extend(self.namespaces.collect(session, ns, labels, server_key))
            except NamespaceError as err:
                errors += 1
                self.logger.error(str(err), extra={"target": target.dsn.display()})
        return errors

    def _namespaces_for(self, session: Session, master: bool, builtin: bool) -> list[Namespace]:
        user = list(self.queries.namespaces()) if self.queries is not None else []
        if not builtin:
            chosen = user
        else:
            # a queries-file namespace of the same name replaces the built-in one (upstream)
            user_names = {ns.name for ns in user}
            chosen = []
            if not self.options.disable_default_metrics and master:
                for ns in default_metrics.NAMESPACES:
                    versioned = default_metrics.for_version(ns, session.version)
                    if ns.name not in user_names and versioned is not None:
                        chosen.append(versioned)
        return [
            prefixed(ns, self.options.metric_prefix)
            for ns in chosen
            if (master or not ns.master) and ns.runs_on(session.version)
        ]

    def _static(self, session: Session, labels: Mapping[str, str]) -> Metric:
        text = str(session.query(VERSION_QUERY).rows[0][0])
        version = parse_version_string(text) or session.version
        names = sorted({*labels, "version", "short_version"})
        values = {**labels, "version": text, "short_version": format_version(version)}
        fam = exact_untyped("pg_static", "Version string as reported by postgres", names)
        fam.add_metric([values[n] for n in names], 1.0)
        return fam

    def _log_query_error(self, target: Target, what: str, err: BaseException) -> None:
        self.logger.error("error running query", extra={
            "target": target.dsn.display(), "query": what,
            "err": target.dsn.redact(" ".join(str(err).split()))})

    def self_metrics(self) -> list[Metric]:
        const = dict(self.options.constant_labels)
        names = sorted(const)
        values = [const[n] for n in names]

        def gauge(name: str, help_text: str, value: float) -> Metric:
            fam = exact_gauge(name, help_text, names)
            fam.add_metric(values, value)
            return fam

        with self._lock:
            duration, total, error, up = self.last_duration, self.scrapes_total, self.last_error, self.up
        scrapes = exact_counter("pg_exporter_scrapes_total",
                                "Total number of times PostgreSQL was scraped for metrics.", names)
        scrapes.add_metric(values, float(total))
        out = [
            gauge("pg_exporter_last_scrape_duration_seconds",
                  "Duration of the last scrape of metrics from PostgreSQL.", duration),
            scrapes,
            gauge("pg_exporter_last_scrape_error",
                  "Whether the last scrape of metrics from PostgreSQL resulted in an error (1 for error, 0 for "
                  "success).", error),
            gauge("pg_up", "Whether the last scrape of metrics from PostgreSQL was able to connect to the server "
                           "(1 for yes, 0 for no).", up),
        ]
        if self.queries is not None:
            out.append(self.queries.metric(const))
        return out


def config_reload_metrics(success: bool, timestamp: float) -> list[Metric]:
    """``postgres_exporter_config_last_reload_*`` (upstream's config package)."""
    ok = GaugeFamily("postgres_exporter_config_last_reload_successful",
                     "Postgres exporter config loaded successfully.", value=1.0 if success else 0.0)
    ts = GaugeFamily("postgres_exporter_config_last_reload_success_timestamp_seconds",
                     "Timestamp of the last successful configuration reload.", value=timestamp)
    return [ok, ts]

