"""``exporters redis``: the redis_exporter replacement (flags and environment of v1.58.0)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exporters import __version__
from exporters.core.app import (
    Exporter,
    HTTPError,
    MetricsHandler,
    Rendered,
    Request,
    Response,
    Runtime,
    render,
    run,
)
from exporters.core.collector import FamilyDoc
from exporters.core.flags import (
    ArgumentParser,
    ConfigError,
    add_version_flag,
    add_web_flags,
    go_bool_argument,
    parse_duration,
    parse_go_bool,
)
from exporters.core.logs import goarch, setup_logging
from exporters.core.metrics import Metric
from exporters.core.reloadable import ReloadableFile
from exporters.core.selfmetrics import SelfStats, Stat
from exporters.core.selfmetrics import build_info as core_build_info
from exporters.core.settings import LogSettings, WebSettings
from exporters.core.targets import Endpoint, TargetAllowlist
from exporters.core.webconfig import WebConfig, build_ssl_context
from exporters.redis.families import help_for
from exporters.redis.resp import Address, TLSOptions, parse_address
from exporters.redis.scrape import LogOnce, RedisScrape, ScrapeOptions

if TYPE_CHECKING:
    from exporters.core.procpool import ProcessPool

UPSTREAM = "redis_exporter"
UPSTREAM_VERSION = "1.58.0"
DEFAULT_ADDRESS = ":9121"
# For the metrics reference: the exporter's own families, named without the namespace
def families() -> tuple[FamilyDoc, ...]:
    return (*SelfStats.docs(self_stats("").stats, "the exporter"),
            FamilyDoc("exporter_build_info", "gauge", ("build_date", "commit_sha", "golang_version", "version"),
                      source="the exporter"))


@dataclass(frozen=True)
class Flag:
    """One upstream flag: name (without dashes), environment variable, default, kind."""

    name: str
    env: str
    default: str | int | bool
    help: str
    kind: str = "str"  # str, int, bool
    dest_name: str = ""

    @property
    def dest(self) -> str:
        return self.dest_name or self.name.replace(".", "_").replace("-", "_")


# redis_exporter v1.58.0 main.go, in its order.
FLAGS: tuple[Flag, ...] = (
    Flag("redis.addr", "REDIS_ADDR", "redis://localhost:6379", "Address of the Redis instance to scrape"),
    Flag("redis.user", "REDIS_USER", "", "User name to use for authentication (Redis ACL for Redis 6.0 and newer)"),
    Flag("redis.password", "REDIS_PASSWORD", "", "Password of the Redis instance to scrape"),
    Flag("redis.password-file", "REDIS_PASSWORD_FILE", "", "Password file of the Redis instance to scrape"),
    Flag("namespace", "REDIS_EXPORTER_NAMESPACE", "redis", "Namespace for metrics"),
    Flag("check-keys", "REDIS_EXPORTER_CHECK_KEYS", "",
         "Comma separated list of key-patterns to export value and length/size, searched for with SCAN"),
    Flag("check-single-keys", "REDIS_EXPORTER_CHECK_SINGLE_KEYS", "",
         "Comma separated list of single keys to export value and length/size"),
    Flag("check-key-groups", "REDIS_EXPORTER_CHECK_KEY_GROUPS", "",
         "Comma separated list of lua regex for grouping keys"),
    Flag("check-streams", "REDIS_EXPORTER_CHECK_STREAMS", "",
         "Comma separated list of stream-patterns to export info about streams, groups and consumers, "
         "searched for with SCAN"),
    Flag("check-single-streams", "REDIS_EXPORTER_CHECK_SINGLE_STREAMS", "",
         "Comma separated list of single streams to export info about streams, groups and consumers"),
    Flag("count-keys", "REDIS_EXPORTER_COUNT_KEYS", "",
         "Comma separated list of patterns to count (eg: 'db0=production_*,db3=sessions:*'), searched for with SCAN"),
    Flag("check-keys-batch-size", "REDIS_EXPORTER_CHECK_KEYS_BATCH_SIZE", 1000,
         "Approximate number of keys to process in each execution (SCAN COUNT)", "int"),
    Flag("check-keys-limit", "REDIS_EXPORTER_CHECK_KEYS_LIMIT", 10000,
         "Most keys the key checks of one scrape look at (SCAN results and checked keys); 0: no limit", "int"),
    Flag("script", "REDIS_EXPORTER_SCRIPT", "",
         "Comma separated list of path(s) to Redis Lua script(s) for gathering extra metrics"),
    Flag("log-format", "REDIS_EXPORTER_LOG_FORMAT", "txt", "Log format, valid options are txt and json",
         dest_name="upstream_log_format"),
    Flag("config-command", "REDIS_EXPORTER_CONFIG_COMMAND", "CONFIG", "What to use for the CONFIG command"),
    Flag("connection-timeout", "REDIS_EXPORTER_CONNECTION_TIMEOUT", "15s",
         "Timeout for connection to Redis instance (also bounded by the scrape deadline)"),
    Flag("tls-client-key-file", "REDIS_EXPORTER_TLS_CLIENT_KEY_FILE", "",
         "Name of the client key file (including full path) if the server requires TLS client authentication"),
    Flag("tls-client-cert-file", "REDIS_EXPORTER_TLS_CLIENT_CERT_FILE", "",
         "Name of the client certificate file (including full path) if the server requires TLS client "
         "authentication"),
    Flag("tls-ca-cert-file", "REDIS_EXPORTER_TLS_CA_CERT_FILE", "",
         "Name of the CA certificate file (including full path) if the server requires TLS client authentication"),
    Flag("tls-server-key-file", "REDIS_EXPORTER_TLS_SERVER_KEY_FILE", "",
         "Name of the server key file (including full path) if the web interface and telemetry should use TLS"),
    Flag("tls-server-cert-file", "REDIS_EXPORTER_TLS_SERVER_CERT_FILE", "",
         "Name of the server certificate file (including full path) if the web interface and telemetry should "
         "use TLS"),
    Flag("tls-server-ca-cert-file", "REDIS_EXPORTER_TLS_SERVER_CA_CERT_FILE", "",
         "Name of the CA certificate file (including full path) if the web interface and telemetry should "
         "require TLS client authentication"),
    Flag("tls-server-min-version", "REDIS_EXPORTER_TLS_SERVER_MIN_VERSION", "TLS1.2",
         "Minimum TLS version that is acceptable by the web interface and telemetry when using TLS"),
    Flag("max-distinct-key-groups", "REDIS_EXPORTER_MAX_DISTINCT_KEY_GROUPS", 100,
         "The maximum number of distinct key groups with the most memory utilization to present as distinct "
         "metrics per database, the leftover key groups will be aggregated in the 'overflow' bucket", "int"),
    Flag("debug", "REDIS_EXPORTER_DEBUG", False, "Output verbose debug information", "bool"),
    Flag("set-client-name", "REDIS_EXPORTER_SET_CLIENT_NAME", True,
         "Whether to set client name to redis_exporter", "bool"),
    Flag("is-tile38", "REDIS_EXPORTER_IS_TILE38", False, "Whether to scrape Tile38 specific metrics", "bool"),
    Flag("is-cluster", "REDIS_EXPORTER_IS_CLUSTER", False,
         "Whether this is a redis cluster (Enable this if you need to fetch key level data on a Redis Cluster).",
         "bool"),
    Flag("export-client-list", "REDIS_EXPORTER_EXPORT_CLIENT_LIST", False,
         "Whether to scrape Client List specific metrics", "bool"),
    Flag("export-client-port", "REDIS_EXPORTER_EXPORT_CLIENT_PORT", False,
         "Whether to include the client's port when exporting the client list", "bool"),
    Flag("redis-only-metrics", "REDIS_EXPORTER_REDIS_ONLY_METRICS", False,
         "Whether to export only the Redis metrics (no process and runtime metrics of the exporter)", "bool"),
    Flag("ping-on-connect", "REDIS_EXPORTER_PING_ON_CONNECT", False,
         "Whether to ping the redis instance after connecting", "bool"),
    Flag("include-config-metrics", "REDIS_EXPORTER_INCL_CONFIG_METRICS", False,
         "Whether to include all config settings as metrics", "bool"),
    Flag("disable-exporting-key-values", "REDIS_EXPORTER_DISABLE_EXPORTING_KEY_VALUES", False,
         "Whether to disable values of keys stored in redis as labels or not when using check-keys/check-single-key",
         "bool"),
    Flag("redact-config-metrics", "REDIS_EXPORTER_REDACT_CONFIG_METRICS", True,
         "Whether to redact config settings that include potentially sensitive information like passwords",
         "bool"),
    Flag("include-system-metrics", "REDIS_EXPORTER_INCL_SYSTEM_METRICS", False,
         "Whether to include system metrics like e.g. redis_total_system_memory_bytes", "bool"),
    Flag("skip-tls-verification", "REDIS_EXPORTER_SKIP_TLS_VERIFICATION", False,
         "Whether to to skip TLS verification", "bool"),
    Flag("allowed-targets", "REDIS_EXPORTER_ALLOWED_TARGETS", "",
         "Comma separated list of the targets /scrape may be asked for (host, host:port, URL, address range, "
         "unix:/path; wildcards allowed); they get -redis.user and -redis.password. Empty: any TCP target, "
         "and only -redis.addr and the password file's targets get credentials"),
    Flag("allow-scrape-key-checks", "REDIS_EXPORTER_ALLOW_SCRAPE_KEY_CHECKS", False,
         "Whether /scrape may be asked for key checks (check-keys, check-single-keys, check-streams, "
         "check-single-streams, count-keys query parameters), as redis_exporter allows", "bool"),
    Flag("check-keys-value-bytes", "REDIS_EXPORTER_CHECK_KEYS_VALUE_BYTES", 4096,
         "Longest string value the key checks export as a label (longer ones: key_size only)", "int"),
    Flag("max-reply-bytes", "REDIS_EXPORTER_MAX_REPLY_BYTES", 8 << 20,
         "Largest reply a server may send to one command; a larger one fails the scrape", "int"),
    Flag("max-scrape-bytes", "REDIS_EXPORTER_MAX_SCRAPE_BYTES", 1 << 30,
         "Most bytes a server may send in one scrape; more fails the scrape", "int"),
)

def env_value(flag: Flag, env: Mapping[str, str]) -> str | int | bool:
    """The flag's default, or its environment variable when set and valid (as upstream's getEnv*)."""
    raw = env.get(flag.env)
    if raw is None:
        return flag.default
    if flag.kind == "bool":
        try:
            return parse_go_bool(raw)
        except ValueError:
            return flag.default
    if flag.kind == "int":
        try:
            return int(raw)
        except ValueError:
            return flag.default
    return raw


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """Go's flag package takes ``-name`` and ``--name`` alike; argparse gets ``--name``.

    Every option here is long (only ``-h`` is a short one), so any ``-word`` with more
    than one letter is the single-dash spelling of ``--word``.
    """
    out: list[str] = []
    passthrough = False
    for arg in argv:
        if not passthrough and arg == "--":
            passthrough = True
        elif (not passthrough and arg.startswith("-") and not arg.startswith("--")
              and len(arg.split("=", 1)[0]) > 2 and arg[1].isalpha()):
            arg = "-" + arg
        out.append(arg)
    return out


def build_parser(env: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    environ = os.environ if env is None else env
    parser = ArgumentParser(prog="redis_exporter", description="Prometheus exporter for Redis metrics.")
    add_version_flag(parser, UPSTREAM, UPSTREAM_VERSION)
    add_web_flags(parser, DEFAULT_ADDRESS, {
        "web_listen_address": "REDIS_EXPORTER_WEB_LISTEN_ADDRESS",
        "web_telemetry_path": "REDIS_EXPORTER_WEB_TELEMETRY_PATH",
    }, environ, openmetrics=False, max_requests=0, processes=True)
    group = parser.add_argument_group("redis")
    for flag in FLAGS:
        default = env_value(flag, environ)
        if flag.kind == "bool":
            group.add_argument(f"--{flag.name}", dest=flag.dest, nargs="?", const=True, type=go_bool_argument,
                               default=default, metavar="BOOL", help=f"{flag.help} (env {flag.env})")
        elif flag.kind == "int":
            group.add_argument(f"--{flag.name}", dest=flag.dest, type=int, default=default,
                               help=f"{flag.help} (env {flag.env})")
        else:
            group.add_argument(f"--{flag.name}", dest=flag.dest, default=default,
                               help=f"{flag.help} (env {flag.env})")
    return parser


def parse_args(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> argparse.Namespace:
    args = build_parser(env).parse_args(normalize_argv(sys.argv[1:] if argv is None else argv))
    if args.debug:
        args.log_level = "debug"
    if args.upstream_log_format == "json":
        args.log_format = "json"
    return args


def load_password_map(path: str) -> PasswordMap:
    return PasswordMap(load_password_file(path))


def load_password_file(path: str) -> dict[str, str]:
    """The ``-redis.password-file`` JSON object (target URL -> password)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as err:
        raise ConfigError(f"load password file {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}:{err.lineno}: password file format error: {err.msg}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigError(f"{path}: password file must be a JSON object of strings")
    return dict(data)


_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1"}


def target_key(target: str) -> str:
    """A canonical form of a target: scheme, host (loopback names as one) and port.

    ``redis://localhost:6379``, ``localhost:6379``, ``127.0.0.1`` and ``redis://127.0.0.1:6379/``
    all give ``redis://localhost:6379``.
    """
    try:
        address = parse_address(target)
    except ValueError:
        return target
    if address.scheme == "unix":
        return f"unix://{address.path}"
    host = address.host.lower()
    if host in _LOOPBACK:
        host = "localhost"
    return f"{address.scheme}://{host}:{address.port}"


class PasswordMap:
    """Per-target passwords: exact string first (as upstream), then the canonical form."""

    def __init__(self, passwords: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self.replace(passwords or {})

    def replace(self, passwords: Mapping[str, str]) -> None:
        exact = dict(passwords)
        canonical = {target_key(k): v for k, v in passwords.items()}
        with self._lock:
            self._exact = exact
            self._canonical = canonical

    def __len__(self) -> int:
        return len(self._exact)

    def lookup(self, target: str) -> str:
        with self._lock:
            if target in self._exact:
                return self._exact[target]
            return self._canonical.get(target_key(target), "")


def endpoint(address: Address) -> Endpoint:
    """Where a client of ``address`` really connects (what ``-allowed-targets`` is matched with)."""
    if address.scheme == "unix":
        return Endpoint.unix(address.path)
    return Endpoint.tcp(address.host, address.port)


def self_stats(namespace: str) -> SelfStats:
    """``redis_exporter_scrapes_total``, the scrape-duration summary and request errors."""
    def name(short: str) -> str:
        return f"{namespace}_{short}" if namespace else short

    return SelfStats([
        Stat(name("exporter_scrapes_total"), "counter", help_for("exporter_scrapes_total"), "scrapes"),
        Stat(name("exporter_scrape_duration_seconds"), "summary", help_for("exporter_scrape_duration_seconds"),
             "scrapes", "duration_sum"),
        Stat(name("target_scrape_request_errors_total"), "counter", help_for("target_scrape_request_errors_total"),
             "request_errors"),
    ])


def build_info(namespace: str) -> list[Metric]:
    return [core_build_info(f"{namespace}_exporter_build_info" if namespace else "exporter_build_info",
                            help_for("exporter_build_info"),
                            {"version": __version__, "commit_sha": "", "build_date": "",
                             "golang_version": f"python{platform.python_version()}"})]


def scrape_options(args: argparse.Namespace) -> ScrapeOptions:
    try:
        timeout = parse_duration(args.connection_timeout)
    except argparse.ArgumentTypeError as err:
        raise ConfigError(f"couldn't parse connection timeout duration, err: {err}") from None
    if bool(args.tls_client_cert_file) != bool(args.tls_client_key_file):
        raise ConfigError("TLS client key file and cert file should both be present")
    scripts: list[tuple[str, bytes]] = []
    for path in [p for p in args.script.split(",") if p] if args.script else []:
        try:
            with open(path, "rb") as handle:
                scripts.append((path, handle.read()))
        except OSError as err:
            raise ConfigError(f"error loading script file {path}: {err.strerror or err}") from None
    tls = TLSOptions(args.tls_client_cert_file, args.tls_client_key_file, args.tls_ca_cert_file,
                     args.skip_tls_verification)
    try:
        if tls.client_cert_file or tls.ca_cert_file:  # unreadable files refuse the start; none: no ssl yet
            tls.context()
    except (OSError, ValueError) as err:
        raise ConfigError(f"TLS client configuration: {err}") from None
    for flag, value in (("check-keys-value-bytes", args.check_keys_value_bytes),
                        ("max-reply-bytes", args.max_reply_bytes), ("max-scrape-bytes", args.max_scrape_bytes)):
        if value <= 0:
            raise ConfigError(f"-{flag} must be above 0")
    options = ScrapeOptions(
        namespace=args.namespace,
        user=args.redis_user,
        password=args.redis_password,
        config_command=args.config_command,
        check_keys=args.check_keys,
        check_single_keys=args.check_single_keys,
        check_streams=args.check_streams,
        check_single_streams=args.check_single_streams,
        count_keys=args.count_keys,
        check_key_groups=args.check_key_groups,
        max_distinct_key_groups=args.max_distinct_key_groups,
        check_keys_batch_size=args.check_keys_batch_size,
        max_checked_keys=args.check_keys_limit,
        key_value_limit=args.check_keys_value_bytes,
        max_reply_bytes=args.max_reply_bytes,
        max_scrape_bytes=args.max_scrape_bytes,
        lua_scripts=tuple(scripts),
        tls=tls,
        include_config_metrics=args.include_config_metrics,
        redact_config_metrics=args.redact_config_metrics,
        include_system_metrics=args.include_system_metrics,
        export_key_values=not args.disable_exporting_key_values,
        set_client_name=args.set_client_name,
        is_cluster=args.is_cluster,
        is_tile38=args.is_tile38,
        export_client_list=args.export_client_list,
        export_client_port=args.export_client_port,
        ping_on_connect=args.ping_on_connect,
        connection_timeout=timeout,
    )
    try:
        options.validate()
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return options


# Query parameters of /scrape that override the key-check flags for that request.
SCRAPE_OVERRIDES = {
    "check-keys": "check_keys",
    "check-single-keys": "check_single_keys",
    "check-streams": "check_streams",
    "check-single-streams": "check_single_streams",
    "count-keys": "count_keys",
}


@dataclass(frozen=True)
class ScrapePlan:
    """A checked /scrape request: target, key-check overrides, the credentials it gets."""

    target: str
    overrides: tuple[tuple[str, str], ...]
    user: str
    password: str
    detailed_errors: bool


class ScrapeWorker:
    """Runs scrapes: in the exporter's process, or in a worker of ``--scrape.processes``."""

    def __init__(self, options: ScrapeOptions, logger: logging.Logger, once: LogOnce,
                 include_build_info: bool) -> None:
        self.options = options
        self.logger = logger
        self.once = once
        self.include_build_info = include_build_info

    def run(self, target: str, options: ScrapeOptions, stats: SelfStats, deadline: float | None,
            user: str, password: str, detailed_errors: bool = True) -> list[Metric]:
        stats.add(scrapes=1)
        scrape = RedisScrape(target, options, self.logger, self.once, password, user, detailed_errors)
        metrics = scrape.run(deadline)
        stats.add(duration_sum=scrape.duration)
        return metrics

    def collect(self, plan: ScrapePlan, deadline: float | None) -> list[Metric]:
        """One /scrape's metrics, with its own self-metrics (fresh per request, as upstream's)."""
        overrides: dict[str, Any] = dict(plan.overrides)
        options = dataclasses.replace(self.options, **overrides) if overrides else self.options
        stats = self_stats(options.namespace)
        out = self.run(plan.target, options, stats, deadline, plan.user, plan.password, plan.detailed_errors)
        out.extend(stats.collect())
        if self.include_build_info:
            out.extend(build_info(options.namespace))
        return out


class RedisService:
    """The /metrics, /scrape, /health and /-/reload handlers.

    Configured credentials go only to targets the operator named: ``-redis.addr``, the password
    file's targets, and with ``-allowed-targets`` the targets it allows (which are then the
    only ones /scrape serves). Any other target a caller names on /scrape is scraped without
    them, and its errors are not echoed in detail (no port-scan oracle).
    """

    def __init__(self, settings: RedisSettings, logger: logging.Logger) -> None:
        self.settings = settings
        self.options = settings.options
        self.logger = logger
        self.address: str = settings.redis_addr
        self.once = LogOnce()
        self.worker = ScrapeWorker(self.options, logger, self.once, not settings.redis_only_metrics)
        self.stats = self_stats(self.options.namespace)
        self.passwords: ReloadableFile[PasswordMap] | None = None
        try:
            self.allowlist = TargetAllowlist.parse(settings.allowed_targets)
        except ValueError as err:
            raise ConfigError(f"-allowed-targets: {err}") from None
        self.allow_key_checks = settings.allow_scrape_key_checks
        self.include_build_info = not settings.redis_only_metrics
        self.home = TargetAllowlist()
        if self.address:
            try:
                self.home = TargetAllowlist([str(endpoint(parse_address(self.address)))])
            except ValueError:
                pass  # every scrape reports the invalid address
        if settings.password_file and not self.options.password:
            self.passwords = ReloadableFile(settings.password_file, load_password_map, logger, "password file")
            logger.info("loaded password file", extra={"entries": len(self.passwords.value)})

    def _scrape(self, target: str, options: ScrapeOptions, stats: SelfStats, deadline: float | None,
                user: str, password: str, detailed_errors: bool = True) -> list[Metric]:
        return self.worker.run(target, options, stats, deadline, user, password, detailed_errors)

    def metrics(self, request: Request) -> Iterable[Metric]:
        out: list[Metric] = []
        if self.address:
            uri = self.address if "://" in self.address else "redis://" + self.address
            password = self._password_of(uri) or self.options.password
            out.extend(self._scrape(uri, self.options, self.stats, request.deadline, self.options.user, password))
        else:
            self.stats.add(scrapes=1)
        out.extend(self.stats.collect())
        return out

    def _refuse(self, status: int, message: str) -> HTTPError:
        self.stats.add(request_errors=1)
        return HTTPError(status, message)

    def scrape(self, request: Request) -> Iterable[Metric]:
        return self.worker.collect(self.plan(request), request.deadline)

    def plan(self, request: Request) -> ScrapePlan:
        """What a /scrape request asks for, checked, with its credentials (or an ``HTTPError``)."""
        target = request.param("target")
        if not target:
            raise self._refuse(400, "'target' parameter must be specified")
        if "://" not in target:
            target = "redis://" + target
        try:
            parts = urllib.parse.urlsplit(target)
            address = parse_address(target)
        except ValueError as err:
            raise self._refuse(400, f"Invalid 'target' parameter, parse err: {err}") from None
        # A password never travels in the target (upstream drops it too); a user name may.
        netloc = parts.netloc.rpartition("@")[2]
        bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        if address.username:
            netloc = urllib.parse.quote(address.username, safe="") + "@" + netloc
        target = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        if address.scheme == "unix":  # urlunsplit would drop the "//" of "unix:///path"
            bare = target = f"unix://{address.path}" + (f"?db={address.db}" if address.db else "")
        where = endpoint(address)
        if self.allowlist:
            if not self.allowlist.allows([where]):
                raise self._refuse(403, "target not allowed by -allowed-targets")
            named = True
        elif where.is_unix:
            raise self._refuse(403, "unix socket targets are served only when -allowed-targets lists them")
        else:
            named = self.home.allows([where])
        overrides: dict[str, Any] = {
            dest: request.param(name) for name, dest in SCRAPE_OVERRIDES.items() if request.param(name)
        }
        options = self.options
        if overrides:
            if not self.allow_key_checks:
                raise self._refuse(403, "key checks on /scrape are off: start the exporter with "
                                        "-allow-scrape-key-checks to allow " + ", ".join(sorted(SCRAPE_OVERRIDES)))
            options = dataclasses.replace(options, **overrides)
            try:
                options.validate()
            except ValueError as err:
                raise self._refuse(400, f"NewRedisExporter() err: {err}") from None
        password = self._password_of(bare)
        if not password and options.password:
            if named:
                password = options.password
            elif self.once.first(str(where), "credentials"):
                self.logger.warning(
                    "not sending -redis.password to a target -allowed-targets does not name (logged once "
                    "per target); list the targets in -allowed-targets ('*' for any TCP target, as "
                    "redis_exporter does) or give each its entry in -redis.password-file",
                    extra={"target": address.redacted()})
        user = options.user if named or password else ""
        return ScrapePlan(target, tuple(overrides.items()), user, password, named or bool(password))

    def health(self, request: Request) -> Response:
        return Response(200, b"ok")

    def _password_of(self, target: str) -> str:
        return self.passwords.value.lookup(target) if self.passwords is not None else ""

    def reload(self, request: Request) -> Response:
        if self.passwords is None:
            raise HTTPError(400, "There is no pwd file specified")
        if not self.passwords.reload():
            raise HTTPError(500, "failed to reload passwords file (the error is in the exporter's log)")
        return Response(200, b"ok")

    def reload_passwords(self) -> None:
        """SIGHUP: read the password file again; a broken one is logged and the old one kept."""
        if self.passwords is not None:
            self.passwords.reload()


@dataclass(frozen=True)
class RedisSettings:
    """Everything redis_exporter's command line and environment decide, typed."""

    web: WebSettings
    log: LogSettings
    options: ScrapeOptions
    redis_addr: str
    password_file: str
    allowed_targets: str
    allow_scrape_key_checks: bool
    redis_only_metrics: bool
    tls_server: TLSServerFlags
    # the command line itself: what a --scrape.processes worker parses again
    argv: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, args: argparse.Namespace, argv: Sequence[str] = ()) -> RedisSettings:
        return cls(
            web=WebSettings.from_args(args),
            log=LogSettings.from_args(args, style="logrus"),
            options=scrape_options(args),
            redis_addr=str(args.redis_addr),
            password_file=str(args.redis_password_file or ""),
            allowed_targets=str(args.allowed_targets or ""),
            allow_scrape_key_checks=bool(args.allow_scrape_key_checks),
            redis_only_metrics=bool(args.redis_only_metrics),
            tls_server=TLSServerFlags(str(args.tls_server_cert_file or ""), str(args.tls_server_key_file or ""),
                                      str(args.tls_server_ca_cert_file or ""), str(args.tls_server_min_version)),
            argv=tuple(argv),
        )


@dataclass(frozen=True)
class TLSServerFlags:
    """The ``-tls-server-*`` flags: cert, key, client CA and minimum version."""

    cert_file: str
    key_file: str
    ca_cert_file: str
    min_version: str


class RedisExporterApp(Exporter):
    """redis_exporter's self-metrics: its own build-info family, not the core's node-style
    one, and no promhttp_* handler metrics."""

    def self_metrics(self) -> list[Metric]:
        out: list[Metric] = []
        if self.exporter_metrics:
            out.extend(build_info(self.build_info_name or "redis"))
            out.extend(self.process_metrics.collect())
        return out


_TLS_MIN_VERSIONS = {"TLS1.3": "TLS13", "TLS1.2": "TLS12", "TLS1.1": "TLS11", "TLS1.0": "TLS10"}


def apply_server_tls_flags(web_config: WebConfig, args: TLSServerFlags) -> None:
    """``-tls-server-*`` flags: serve HTTPS as upstream does (same as a web config's TLS block)."""
    if not (args.cert_file and args.key_file):
        return
    tls = web_config.tls
    if tls.enabled:
        raise ConfigError("-tls-server-* flags and a tls_server_config in --web.config.file are exclusive")
    if args.min_version not in _TLS_MIN_VERSIONS:
        raise ConfigError(f"configured minimum TLS version unknown: '{args.min_version}'")
    tls.cert_file = args.cert_file
    tls.key_file = args.key_file
    tls.min_version = _TLS_MIN_VERSIONS[args.min_version]
    if args.ca_cert_file:
        tls.client_ca_file = args.ca_cert_file
        tls.client_auth_type = "RequireAndVerifyClientCert"
    build_ssl_context(web_config)  # unreadable or mismatched files: refuse to start


class PooledScrape:
    """/scrape with ``--scrape.processes N``: checked here, collected and rendered in a worker.

    The request's target, key checks and credentials are decided in this process (so the
    password file, and its reload, live here only); a worker gets the plan and the time left,
    and answers the rendered text. The pool starts at the first /scrape.
    """

    def __init__(self, service: RedisService, settings: RedisSettings, logger: logging.Logger) -> None:
        self.service = service
        self.settings = settings
        self.logger = logger
        self._lock = threading.Lock()
        self._pool: ProcessPool | None = None
        self._closed = False

    def pool(self) -> ProcessPool:
        with self._lock:
            if self._closed:
                raise HTTPError(503, "the exporter is shutting down")
            if self._pool is None:
                from exporters.core.procpool import ProcessPool  # here: no pool, no import

                self._pool = ProcessPool(self.settings.web.scrape_processes, "exporters.redis.main:scrape_worker",
                                         (self.settings.argv,), self.logger)
            return self._pool

    def __call__(self, request: Request) -> Rendered:
        plan = self.service.plan(request)
        pool = self.pool()
        from exporters.core.procpool import WorkerError

        left = None if request.deadline is None else max(request.deadline - time.monotonic(), 0.0)
        try:
            status, content_type, body, guard = pool.call((plan, left, request.headers.get("Accept")),
                                                          request.deadline)
        except WorkerError as err:
            self.logger.error("error gathering metrics", extra={"path": request.path, "err": str(err)})
            return Rendered(Response(500, b"An error has occurred while serving metrics.\n"))
        return Rendered(Response(status, body, content_type), guard)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


def scrape_worker(argv: Sequence[str]) -> Callable[[tuple[ScrapePlan, float | None, str | None]], Any]:
    """In a ``--scrape.processes`` worker: the same settings from the same command line, and a
    handler from (plan, seconds left, Accept) to (status, content type, body, series guard)."""
    settings = RedisSettings.from_args(parse_args(argv), argv)
    logger = setup_logging("redis", settings.log.level, settings.log.format, style=settings.log.style)
    worker = ScrapeWorker(settings.options, logger, LogOnce(), not settings.redis_only_metrics)
    web = settings.web

    def handle(request: tuple[ScrapePlan, float | None, str | None]) -> tuple[int, str, bytes, Any]:
        plan, left, accept = request
        deadline = None if left is None else time.monotonic() + left
        try:
            response, guard = render(worker.collect(plan, deadline), accept, web.openmetrics, web.max_series)
        except Exception as err:  # noqa: BLE001 - as Exporter.scrape: one bad scrape is a 500
            logger.error("error gathering metrics", extra={"path": "/scrape", "err": f"{type(err).__name__}: {err}"})
            return 500, "text/plain; charset=utf-8", b"An error has occurred while serving metrics.\n", None
        return response.status, response.content_type, response.body, guard

    return handle


def build_app(settings: RedisSettings, runtime: Runtime) -> Exporter:
    apply_server_tls_flags(runtime.web_config, settings.tls_server)
    logger = runtime.logger
    logger.info(f"Redis Metrics Exporter {__version__} (redis_exporter {UPSTREAM_VERSION})    build date:     "
                f"sha1:     Go: python{platform.python_version()}    GOOS: {sys.platform}    GOARCH: {goarch()}")
    service = RedisService(settings, logger)
    logger.info(f"Providing metrics at {settings.web.listen_addresses[0]}{settings.web.telemetry_path}")
    if service.address:
        try:
            where = parse_address(service.address).redacted()
        except ValueError:
            where = "<redacted>"
        logger.debug(f"Configured redis addr: {where!r}")
    scrape: MetricsHandler = service.scrape
    on_close: list[Callable[[], None]] = []
    if settings.web.scrape_processes:
        pooled = PooledScrape(service, settings, logger)
        scrape = pooled
        on_close.append(pooled.close)
    return RedisExporterApp(
        name="redis",
        upstream=UPSTREAM,
        title=f"Redis Exporter {__version__}",
        description=f"Prometheus exporter for Redis (compatible with redis_exporter {UPSTREAM_VERSION}).",
        web=settings.web,
        runtime=runtime,
        metrics=service.metrics,
        metrics_routes={"/scrape": scrape},
        routes={"/health": service.health, "/-/reload": service.reload},
        links=[("/health", "Health")],
        on_reload=[service.reload_passwords],
        on_close=on_close,
        exporter_metrics=not settings.redis_only_metrics,
        build_info_name=settings.options.namespace,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    started = time.monotonic()
    code = run(UPSTREAM, "redis", lambda: RedisSettings.from_args(args, argv), build_app)
    logging.getLogger("exporters.redis").debug("exited", extra={"seconds": round(time.monotonic() - started, 3)})
    return code


if __name__ == "__main__":
    sys.exit(main())
