"""``exporters postgres``: the postgres_exporter replacement."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from exporters.core.app import Exporter, Request, Runtime, run
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
from exporters.core.metrics import Metric
from exporters.core.reloadable import ReloadableFile
from exporters.core.settings import LogSettings, WebSettings
from exporters.core.targets import TargetAllowlist
from exporters.postgres import default_metrics
from exporters.postgres.collectors import SPECS, CollectorConfig
from exporters.postgres.config import ExporterConfig, load_config
from exporters.postgres.connection import ConnectError, Target
from exporters.postgres.dsn import Dsn, data_sources_from_env
from exporters.postgres.engine import HISTOGRAM_SUFFIXES
from exporters.postgres.exporter import (
    DEFAULT_MAX_ROWS,
    DEFAULT_MAX_ROWS_PER_QUERY,
    Options,
    PostgresExporter,
    QueriesState,
    run_namespaces,
    run_statements,
)
from exporters.postgres.probe import DEFAULT_IDLE_SECONDS, DEFAULT_MAX_CONNECTIONS, ProbeHandler, ProbePolicy, ProbePool

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
    add_web_flags(parser, DEFAULT_ADDRESS, WEB_ENV, environ, max_requests=0)
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
                        help="Comma-separated endpoints /probe may connect to (host, host:port, [v6]:port, "
                             "10.0.0.0/8, unix:/run/postgresql/*; shell wildcards), checked against every address "
                             "libpq would use. Empty: only targets probed with their own credentials "
                             "(env PG_EXPORTER_PROBE_ALLOWED_TARGETS).")
    add_bool_flag(parser, "probe.send-credentials-to-any-target",
                  "Let /probe send auth_module credentials and the exporter's own (PGPASSWORD, .pgpass, client "
                  "certificates, its OS user over a unix socket) to any target, as upstream does.",
                  env_name="PG_EXPORTER_PROBE_SEND_CREDENTIALS_TO_ANY_TARGET", env=environ)
    parser.add_argument("--probe.max-connections", dest="probe_max_connections", type=int,
                        default=DEFAULT_MAX_CONNECTIONS,
                        help=f"Connections /probe keeps open at most, all targets together "
                             f"(default {DEFAULT_MAX_CONNECTIONS}); more probes at once wait for one.")
    parser.add_argument("--probe.idle-timeout", dest="probe_idle_timeout", type=parse_duration,
                        default=DEFAULT_IDLE_SECONDS,
                        help="An idle /probe connection is closed after this long (default 10s; 0 closes it "
                             "after each probe, as upstream).")
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


def _allowlist(text: str) -> TargetAllowlist:
    try:
        return TargetAllowlist.parse(text)
    except ValueError as err:
        raise ConfigError(f"--probe.allowed-targets: {err}") from None


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


def void(_: object) -> None:
    """A reload callback's result is logged where it happens; the caller wants none."""


def load_config_file(path: str, logger: logging.Logger) -> ReloadableFile[ExporterConfig]:
    """``--config.file`` (auth modules for ``/probe``): as upstream, a missing or bad file at
    start is only logged (no auth modules, ``..._last_reload_successful 0``); a bad reload keeps
    the previous one."""
    return ReloadableFile(path, load_config, logger, "config file", required=False, default=ExporterConfig())


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
    failed = bool(loaded.check_failures)
    out.write(f"{path}: {len(loaded.namespaces)} namespaces, {len(loaded.check_failures)} errors, "
              f"{len(loaded.problems) - len(loaded.check_failures)} warnings (sha256 {loaded.sha256})\n")
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
    probe_allowlist: TargetAllowlist
    probe_send_credentials_anywhere: bool
    probe_max_connections: int
    probe_idle_seconds: float

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
            probe_allowlist=_allowlist(args.probe_allowed_targets),
            probe_send_credentials_anywhere=bool(args.probe_send_credentials_to_any_target),
            probe_max_connections=max(1, int(args.probe_max_connections)),
            probe_idle_seconds=max(0.0, float(args.probe_idle_timeout)),
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
    config = load_config_file(settings.config_file, logger)
    reload.append(lambda: void(config.reload()))
    for broken in (d for d in settings.dsns if d.error):
        logger.error("malformed data source: every scrape of it fails (pg_up 0)", extra={"err": broken.error})
    if not settings.dsns:
        logger.warning("no data source configured (DATA_SOURCE_NAME, DATA_SOURCE_URI): only /probe is useful")
    # postgres_exporter 0.15.0's start-up lines (a bare logger.Log: no level)
    excluded = " ".join(settings.options.exclude_databases)
    logger.info("Excluded databases", extra={"databases": f"[{excluded}]", "_no_level": True})
    if settings.extend_query_path:
        logger.warning("The extended queries.yaml config is DEPRECATED", extra={"file": settings.extend_query_path})
    if settings.options.auto_discover_databases or settings.options.exclude_databases \
            or settings.options.include_databases:
        logger.warning("Scraping additional databases via auto discovery is DEPRECATED")
    if settings.options.constant_labels:
        logger.warning("Constant labels on all metrics is DEPRECATED")
    logger.debug("enabled collectors", extra={"collectors": ",".join(s.name for s in chosen)})
    pg = PostgresExporter(list(settings.dsns), settings.options, queries, chosen, logger)
    policy = ProbePolicy(settings.probe_allowlist, settings.probe_send_credentials_anywhere)
    pool = ProbePool(settings.probe_max_connections, settings.probe_idle_seconds, logger)
    probe = ProbeHandler(lambda name: config.value.auth_modules.get(name), settings.options, queries, chosen, policy,
                         pool, logger)

    def metrics(request: Request) -> list[Metric]:
        return [*pg.collect(request.deadline), *config.metrics("postgres_exporter", "Postgres exporter")]

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
