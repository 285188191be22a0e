"""``exporters postgres``: the postgres_exporter replacement."""

from __future__ import annotations

import argparse
import fnmatch
import gc
import logging
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from prometheus_client.metrics_core import Metric

from exporters.core.app import Exporter, HTTPError, Request, Runtime, run
from exporters.core.collector import CollectorSpec
from exporters.core.flags import (
    ArgumentParser,
    ConfigError,
    add_bool_flag,
    add_collector_flags,
    add_version_flag,
    add_web_flags,
    enabled_collectors,
    env_default,
    parse_duration,
)
from exporters.core.settings import LogSettings, WebSettings
from exporters.postgres import default_metrics
from exporters.postgres.collectors import SPECS, CollectorConfig
from exporters.postgres.config import AuthModule, ExporterConfig, load_config
from exporters.postgres.connection import ConnectError, Target
from exporters.postgres.dsn import Dsn, data_sources_from_env
from exporters.postgres.engine import HISTOGRAM_SUFFIXES
from exporters.postgres.exporter import (
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_ROWS_PER_QUERY,
    Options,
    PostgresExporter,
    QueriesState,
    config_reload_metrics,
    run_namespaces,
    run_statements,
)

UPSTREAM = "postgres_exporter"
UPSTREAM_VERSION = "0.15.0"
DEFAULT_ADDRESS = ":9187"
PROBE_CACHE_SIZE = 64
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

WEB_ENV = {
    "web_listen_address": "PG_EXPORTER_WEB_LISTEN_ADDRESS",
    "web_telemetry_path": "PG_EXPORTER_WEB_TELEMETRY_PATH",
}


def build_parser(env: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    environ = os.environ if env is None else env
    parser = ArgumentParser(prog="postgres_exporter", description="Prometheus exporter for PostgreSQL server metrics.")
    add_version_flag(parser, UPSTREAM, UPSTREAM_VERSION)
    parser.add_argument("--config.file", dest="config_file", default="postgres_exporter.yml",
                        help="Postgres exporter configuration file (auth_modules for /probe).")
    add_web_flags(parser, DEFAULT_ADDRESS, WEB_ENV, environ)
    add_bool_flag(parser, "disable-default-metrics", "Do not include default metrics.",
                  env_name="PG_EXPORTER_DISABLE_DEFAULT_METRICS", env=environ)
    add_bool_flag(parser, "disable-settings-metrics", "Do not include pg_settings metrics.",
                  env_name="PG_EXPORTER_DISABLE_SETTINGS_METRICS", env=environ)
    add_bool_flag(parser, "auto-discover-databases", "Whether to discover the databases on a server dynamically.",
                  env_name="PG_EXPORTER_AUTO_DISCOVER_DATABASES", env=environ)
    parser.add_argument("--extend.query-path", dest="extend_query_path",
                        default=env_default(environ, "PG_EXPORTER_EXTEND_QUERY_PATH", ""),
                        help="Path to custom queries to run (env PG_EXPORTER_EXTEND_QUERY_PATH).")
    parser.add_argument("--dumpmaps", action="store_true", help="Do not run, simply dump the maps.")
    parser.add_argument("--constantLabels", dest="constant_labels",
                        default=env_default(environ, "PG_EXPORTER_CONSTANT_LABELS", ""),
                        help="A list of label=value separated by comma(,) (env PG_EXPORTER_CONSTANT_LABELS).")
    parser.add_argument("--exclude-databases", dest="exclude_databases",
                        default=env_default(environ, "PG_EXPORTER_EXCLUDE_DATABASES", ""),
                        help="A list of databases to remove when autoDiscoverDatabases is enabled "
                             "(env PG_EXPORTER_EXCLUDE_DATABASES).")
    parser.add_argument("--include-databases", dest="include_databases",
                        default=env_default(environ, "PG_EXPORTER_INCLUDE_DATABASES", ""),
                        help="A list of databases to include when autoDiscoverDatabases is enabled "
                             "(env PG_EXPORTER_INCLUDE_DATABASES).")
    parser.add_argument("--metric-prefix", dest="metric_prefix",
                        default=env_default(environ, "PG_EXPORTER_METRIC_PREFIX", "pg"),
                        help='A metric prefix can be used to have non-default (not "pg") prefixes for each of the '
                             "metrics (env PG_EXPORTER_METRIC_PREFIX).")
    parser.add_argument("--connect-timeout", dest="connect_timeout", type=parse_duration, default=5.0,
                        help="Timeout for establishing a database connection (default 5s); never longer than the "
                             "scrape deadline.")
    parser.add_argument("--probe.allowed-targets", dest="probe_allowed_targets",
                        default=env_default(environ, "PG_EXPORTER_PROBE_ALLOWED_TARGETS", ""),
                        help="Comma-separated host:port patterns (shell wildcards) /probe may connect to; "
                             "empty allows any target, as upstream (env PG_EXPORTER_PROBE_ALLOWED_TARGETS).")
    parser.add_argument("--check-queries", dest="check_queries", metavar="FILE", default=None,
                        help="Report every problem of a queries file with file:line and exit (1 if any is an "
                             "error); with a data source in the environment also run each query once and check "
                             "its columns.")
    parser.add_argument("--scrape.max-rows-per-query", dest="max_rows_per_query", type=int,
                        default=DEFAULT_MAX_ROWS_PER_QUERY,
                        help="Rows of one query's result read at most; the rest are dropped and counted in "
                             f"pg_exporter_rows_dropped_total (default {DEFAULT_MAX_ROWS_PER_QUERY}).")
    parser.add_argument("--scrape.max-rows", dest="max_rows", type=int, default=DEFAULT_MAX_ROWS,
                        help=f"Rows read at most per scrape, all queries together (default {DEFAULT_MAX_ROWS}).")
    add_collector_flags(parser, SPECS)
    return parser


def parse_constant_labels(text: str) -> dict[str, str]:
    """``--constantLabels``: ``a=b,c=d``; a malformed entry is refused (upstream logs and drops it)."""
    labels: dict[str, str] = {}
    for part in text.strip().split(",") if text.strip() else []:
        key, sep, value = part.strip().partition("=")
        key, value = key.strip(), value.strip()
        if not sep or "=" in value:
            raise ConfigError(f"--constantLabels: {part.strip()!r} is not label=value")
        if not key or not value:
            continue
        if not _LABEL_NAME.match(key) or key.startswith("__"):
            raise ConfigError(f"--constantLabels: {key!r} is not a valid label name")
        if key in ("server", "filename", "hashsum", "collector"):
            raise ConfigError(f"--constantLabels: label {key!r} is used by the exporter itself")
        labels[key] = value
    return labels


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def options_from_args(args: argparse.Namespace) -> Options:
    prefix = args.metric_prefix
    if not _LABEL_NAME.match(prefix):
        raise ConfigError(f"--metric-prefix: {prefix!r} is not a valid metric name prefix")
    return Options(
        disable_default_metrics=bool(args.disable_default_metrics),
        disable_settings_metrics=bool(args.disable_settings_metrics),
        auto_discover_databases=bool(args.auto_discover_databases),
        include_databases=_split(args.include_databases),
        exclude_databases=_split(args.exclude_databases),
        constant_labels=parse_constant_labels(args.constant_labels),
        metric_prefix=prefix,
        connect_timeout=float(args.connect_timeout),
        max_rows_per_query=max(1, int(args.max_rows_per_query)),
        max_rows=max(1, int(args.max_rows)),
    )


class ConfigState:
    """``--config.file``: loaded at start and on SIGHUP; a bad reload keeps the old one."""

    def __init__(self, path: str, logger: logging.Logger) -> None:
        self.path = path
        self.logger = logger
        self.config = ExporterConfig()
        self.success = False
        self.success_time = 0.0
        self._lock = threading.Lock()

    def load(self, strict: bool) -> None:
        try:
            config = load_config(self.path)
        except FileNotFoundError:
            with self._lock:
                self.success = False
            self.logger.warning("config file not found: auth modules unavailable", extra={"file": self.path})
            return
        except (OSError, ConfigError) as err:
            with self._lock:
                self.success = False
            if strict:
                raise ConfigError(str(err)) from None
            self.logger.error("failed to reload config file, keeping the previous one", extra={"err": str(err)})
            return
        with self._lock:
            self.config, self.success, self.success_time = config, True, time.time()

    def reload(self) -> None:
        self.load(strict=False)

    def auth_module(self, name: str) -> AuthModule | None:
        with self._lock:
            return self.config.auth_modules.get(name)

    def metrics(self) -> list[Metric]:
        with self._lock:
            return config_reload_metrics(self.success, self.success_time)


def target_allowed(dsn: Dsn, patterns: Sequence[str]) -> bool:
    """Whether ``/probe`` may connect to ``dsn`` (``host:port`` or ``host`` against the patterns)."""
    if not patterns:
        return True
    host = dsn.params.get("host") or "localhost"
    return any(fnmatch.fnmatchcase(dsn.server, p) or fnmatch.fnmatchcase(host, p) for p in patterns)


class ProbeHandler:
    """``/probe?target=...&auth_module=...``: one target's metrics, connections kept in an LRU."""

    def __init__(
        self,
        config: ConfigState,
        options: Options,
        queries: QueriesState | None,
        specs: Sequence[CollectorSpec[CollectorConfig]],
        allowed: Sequence[str],
        logger: logging.Logger,
    ) -> None:
        self.config = config
        self.options = options
        self.queries = queries
        self.specs = specs
        self.allowed = list(allowed)
        self.logger = logger
        self._cache: OrderedDict[str, PostgresExporter] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Iterable[Metric]:
        target = request.param("target")
        if not target:
            raise HTTPError(400, "target is required")
        module = AuthModule()
        name = request.param("auth_module")
        if name:
            found = self.config.auth_module(name)
            if found is None:
                raise HTTPError(400, f"auth_module {name} not found")
            if not found.username or not found.password:
                raise HTTPError(400, f"auth_module {name} has no username or password")
            module = found
        try:
            dsn = module.configure(target)
        except ConfigError as err:
            raise HTTPError(400, f"could not configure dsn for target: {err}") from None
        if not target_allowed(dsn, self.allowed):
            self.logger.warning("probe of a target outside --probe.allowed-targets refused",
                                extra={"target": dsn.display()})
            raise HTTPError(403, f"target {dsn.server} is not allowed")
        return self._exporter(dsn).collect(request.deadline)

    def _exporter(self, dsn: Dsn) -> PostgresExporter:
        key = dsn.conninfo()
        with self._lock:
            exporter = self._cache.get(key)
            if exporter is not None:
                self._cache.move_to_end(key)
                return exporter
            exporter = PostgresExporter([dsn], self.options, self.queries, self.specs, self.logger)
            self._cache[key] = exporter
            while len(self._cache) > PROBE_CACHE_SIZE:
                _, old = self._cache.popitem(last=False)
                old.close()
            return exporter

    def close(self) -> None:
        with self._lock:
            for exporter in self._cache.values():
                exporter.close()
            self._cache.clear()


def dump_maps(out: TextIO) -> None:
    """``--dumpmaps``: the built-in namespaces, their queries and column mappings."""
    for ns in default_metrics.NAMESPACES:
        queries = default_metrics.QUERIES.get(ns.name)
        if not queries:
            out.write(f"{ns.name}\n")
        for versions, query in queries or ():
            out.write(f"{ns.name} {versions} {' '.join(query.split())}\n")
        for col in ns.metrics.columns.values():
            extra = f" pg_version={col.versions}" if col.versions is not None else ""
            out.write(f"  {col.name:<40} {col.usage} {col.description!r}{extra}\n")
        out.write("\n")


# SQLSTATEs of a relation, function or schema that does not exist
MISSING_OBJECT = ("42P01", "42883", "3F000")
EXTENSIONS_NOT_INSTALLED = "SELECT name FROM pg_available_extensions WHERE installed_version IS NULL"


def _missing_extension(error: str, available: Sequence[str]) -> bool:
    """The object an error says is missing is named like an extension the server has but
    the database has not installed (pg_stat_statements, pgstattuple_approx...)."""
    quoted = re.findall(r'"([^"]+)"', error) or re.findall(r"function ([\w.]+)\(", error)
    names = [q.rsplit(".", 1)[-1].lower() for q in quoted]
    return any(name.startswith(ext) for name in names for ext in available)


def check_queries(
    path: str, env: Mapping[str, str], out: TextIO, err: TextIO, collectors: Sequence[str] | None = None
) -> int:
    """``--check-queries FILE``: every problem with ``file:line``; 1 if any is an error.
    With a data source in the environment, each query also runs once, as a scrape runs it."""
    loaded = QueriesState.load_file(path, collectors)
    for problem in loaded.problems:
        err.write(f"{problem}\n")
    failed = bool(loaded.errors)
    out.write(f"{path}: {len(loaded.namespaces)} namespaces, {len(loaded.errors)} errors, "
              f"{len(loaded.problems) - len(loaded.errors)} warnings (sha256 {loaded.sha256})\n")
    try:
        dsns = data_sources_from_env(env)
    except ConfigError as error:
        err.write(f"data source: {error}\n")
        return 1
    if not dsns or not loaded.namespaces:
        return 1 if failed else 0
    logger = logging.getLogger("exporters.postgres.check")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    target = Target(dsns[0], logger)
    try:
        with target.lock:
            version = target.version(time.monotonic() + 60)
        runnable = [ns for ns in loaded.namespaces if ns.runs_on(version)]
        for ns in loaded.namespaces:
            if ns not in runnable:
                out.write(f"{ns.name}: skipped (runonserver {ns.runonserver} excludes this server)\n")
        results = run_namespaces(target, runnable, time.monotonic() + 60)
        (extensions,) = run_statements(target, [EXTENSIONS_NOT_INSTALLED], time.monotonic() + 60)
        available = [str(row[0]).lower() for row in extensions.rows]
    except ConnectError as error:
        err.write(f"cannot connect to {target.dsn.display()}: {error}\n")
        return 1
    finally:
        with target.lock:
            target.close()
    for ns, result in zip(runnable, results, strict=True):
        if not result.ok:
            # a missing extension: the exporter itself would start and serve the rest
            missing = result.sqlstate in MISSING_OBJECT and _missing_extension(result.error, available)
            failed = failed or not missing
            level = "warning" if missing else "error"
            err.write(f"{ns.source}: {level}: namespace {ns.name}: query failed: {target.dsn.redact(result.error)}\n")
            continue
        out.write(f"{ns.name}: {len(result.rows)} rows, columns: {', '.join(result.columns)}\n")
        returned = set(result.columns)
        for col in ns.metrics.columns.values():
            if not col.supported(version):
                continue
            needed = [col.name] + ([col.name + s for s in HISTOGRAM_SUFFIXES] if col.usage == "HISTOGRAM" else [])
            for name in needed:
                if name not in returned:
                    failed = True
                    err.write(f"{path}:{col.line}: error: namespace {ns.name}: column {name!r} is not returned "
                              "by the query\n")
    return 1 if failed else 0


# A scrape builds an object or two per series: 330,000 series at 10,000 tables with the
# default collectors. With CPython's default thresholds (700, 10, 10) the cyclic collector
# runs hundreds of young collections and several full ones over them per scrape, about a
# third of that scrape's CPU; what start-up built is frozen out of them (exporters.core.app).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass(frozen=True)
class PostgresSettings:
    """Everything postgres_exporter's command line and environment decide, typed."""

    web: WebSettings
    log: LogSettings
    options: Options
    collectors: tuple[CollectorSpec[CollectorConfig], ...]
    dsns: tuple[Dsn, ...]
    config_file: str
    extend_query_path: str
    probe_allowed_targets: tuple[str, ...]

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str]) -> PostgresSettings:
        return cls(
            web=WebSettings.from_args(args),
            log=LogSettings.from_args(args),
            options=options_from_args(args),
            collectors=tuple(enabled_collectors(args, SPECS)),
            dsns=tuple(data_sources_from_env(env, lenient=True)),
            config_file=str(args.config_file),
            extend_query_path=str(args.extend_query_path or ""),
            probe_allowed_targets=_split(args.probe_allowed_targets),
        )


def build_app(settings: PostgresSettings, runtime: Runtime) -> Exporter:
    logger = runtime.logger
    chosen = list(settings.collectors)
    reload: list[Callable[[], None]] = []
    queries: QueriesState | None = None
    if settings.extend_query_path:
        queries = QueriesState(settings.extend_query_path, logger, [s.name for s in chosen])
        queries.load()
        reload.append(queries.reload)
    config = ConfigState(settings.config_file, logger)
    config.load(strict=True)
    reload.append(config.reload)
    for broken in (d for d in settings.dsns if d.error):
        logger.error("malformed data source: every scrape of it fails (pg_up 0)", extra={"err": broken.error})
    if not settings.dsns:
        logger.warning("no data source configured (DATA_SOURCE_NAME, DATA_SOURCE_URI): only /probe is useful")
    logger.info("enabled collectors", extra={"collectors": ",".join(s.name for s in chosen)})
    pg = PostgresExporter(list(settings.dsns), settings.options, queries, chosen, logger)
    probe = ProbeHandler(config, settings.options, queries, chosen, settings.probe_allowed_targets, logger)

    def metrics(request: Request) -> list[Metric]:
        return [*pg.collect(request.deadline), *config.metrics()]

    tune_gc()
    return Exporter(
        name="postgres",
        upstream=UPSTREAM,
        title="Postgres Exporter",
        description="Prometheus PostgreSQL server Exporter",
        web=settings.web,
        runtime=runtime,
        metrics=metrics,
        metrics_routes={"/probe": probe},
        on_close=[pg.close, probe.close],
        on_reload=reload,
    )


def main(argv: Sequence[str] | None = None) -> int:
    env = dict(os.environ)
    args = build_parser(env).parse_args(argv)
    if args.dumpmaps:
        dump_maps(sys.stdout)
        return 0
    if args.check_queries is not None:
        chosen = enabled_collectors(args, SPECS)
        return check_queries(args.check_queries, env, sys.stdout, sys.stderr, [s.name for s in chosen])
    return run(UPSTREAM, "postgres", lambda: PostgresSettings.from_args(args, env), build_app)


if __name__ == "__main__":
    sys.exit(main())
