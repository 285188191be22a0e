"""One scrape of one Redis server: redis_exporter v1.58.0's metrics, fresh each time.

The order follows upstream's ``scrapeRedisHost``: connect (AUTH, SELECT), optional PING
and CLIENT SETNAME, CONFIG GET *, INFO ALL, CLUSTER INFO in cluster mode, LATENCY,
SLOWLOG, Sentinel, client list, Tile38, then the key checks, key groups and Lua scripts.
The fixed commands go out in two pipelines (CLIENT SETNAME, CONFIG GET, INFO; then
CLUSTER INFO, LATENCY, SLOWLOG), in that order, so a scrape costs two round trips where
upstream waits for seven. The key checks do every SCAN first, the patterns of one database
side by side (``keys.run_scans``), then check what they found. A failure to connect or to
read INFO makes ``redis_up 0`` with the error in ``redis_exporter_last_scrape_error``; a
command the server refuses (CONFIG or LATENCY on managed services) costs only its own
metrics and is logged once per target.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from exporters.core.metrics import Metric
from exporters.redis import info as info_mod
from exporters.redis.cluster import ClusterRouter
from exporters.redis.families import Families
from exporters.redis.info import (
    INFO_FIELDS,
    MASTER_DIRECT,
    MASTER_HOST,
    MASTER_LINK_STATUS,
    MASTER_PORT,
    PASSTHROUGH_PREFIXES,
    SYSTEM_FIELDS,
    InfoField,
    parse_cluster_info,
    parse_commandstat,
    parse_errorstat,
    parse_info,
    parse_keyspace,
    parse_latencystat,
    parse_slave,
    parse_value,
)
from exporters.redis.key_groups import key_group_metrics, parse_key_groups
from exporters.redis.keys import (
    DbKey,
    KeyBudget,
    KeyScan,
    check_keys,
    check_streams,
    is_pattern,
    parse_key_arg,
    run_scans,
)
from exporters.redis.replies import (
    parse_client_line,
    parse_latency_histogram,
    parse_latency_latest,
    parse_slowlog_last,
    total_usec,
)
from exporters.redis.resp import (
    Address,
    Connection,
    RedisConnectionError,
    Reply,
    ReplyError,
    TLSOptions,
    as_text,
    parse_address,
)
from exporters.redis.sentinel import sentinel_info_line, sentinel_masters

# CONFIG keys whose values are secrets: not exported with -redact-config-metrics (default on).
REDACTED_CONFIG_KEYS = frozenset({"masterauth", "requirepass", "tls-key-file-pass", "tls-client-key-file-pass"})
# CONFIG keys always exported as redis_config_<key> gauges.
CONFIG_GAUGES = frozenset({"io-threads", "maxclients", "maxmemory"})
DEFAULT_DATABASES = 16


@dataclass(frozen=True)
class ScrapeOptions:
    """Everything a scrape needs from the command line (no target-specific data)."""

    namespace: str = "redis"
    user: str = ""
    password: str = ""
    config_command: str = "CONFIG"
    check_keys: str = ""
    check_single_keys: str = ""
    check_streams: str = ""
    check_single_streams: str = ""
    count_keys: str = ""
    check_key_groups: str = ""
    max_distinct_key_groups: int = 100
    check_keys_batch_size: int = 1000
    max_checked_keys: int = 10000
    lua_scripts: tuple[tuple[str, bytes], ...] = ()
    tls: TLSOptions = field(default_factory=TLSOptions)
    include_config_metrics: bool = False
    redact_config_metrics: bool = True
    include_system_metrics: bool = False
    export_key_values: bool = True
    set_client_name: bool = True
    is_cluster: bool = False
    is_tile38: bool = False
    export_client_list: bool = False
    export_client_port: bool = False
    ping_on_connect: bool = False
    connection_timeout: float = 15.0

    def validate(self) -> None:
        """Raise ``ValueError`` for key arguments upstream also refuses at start."""
        for flag, value in (
            ("check-keys", self.check_keys), ("check-single-keys", self.check_single_keys),
            ("check-streams", self.check_streams), ("check-single-streams", self.check_single_streams),
            ("count-keys", self.count_keys),
        ):
            try:
                parse_key_arg(value)
            except ValueError as err:
                raise ValueError(f"couldn't parse {flag}: {err}") from None
        parse_key_groups(self.check_key_groups)


class LogOnce:
    """Remembers which (target, topic) warnings were already logged."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def first(self, target: str, topic: str) -> bool:
        with self._lock:
            if (target, topic) in self._seen:
                return False
            self._seen.add((target, topic))
            return True


class ScrapeError(Exception):
    """A failure that makes the whole scrape fail (redis_up 0)."""


class RedisScrape:
    """Scrapes one target once; ``run()`` returns the families (never raises)."""

    def __init__(
        self,
        target: str,
        options: ScrapeOptions,
        logger: logging.Logger,
        once: LogOnce,
        password: str = "",
    ) -> None:
        self.target = target
        self.options = options
        self.logger = logger
        self.once = once
        self.password = password or options.password
        self.families = Families(options.namespace)
        try:
            self.address: Address | None = parse_address(target)
            self.where = self.address.redacted()
        except ValueError:
            self.address = None
            self.where = "<redacted>"

    def _log(self, level: int, message: str, **extra: object) -> None:
        self.logger.log(level, message, extra={"target": self.where, **extra})

    def _warn_once(self, topic: str, message: str, err: str) -> None:
        if self.once.first(self.where, topic):
            self._log(logging.WARNING, message + " (logged once per target)", err=err)
        else:
            self._log(logging.DEBUG, message, err=err)

    def run(self, deadline: float | None) -> list[Metric]:
        started = time.monotonic()
        fam = self.families
        try:
            self._scrape(deadline)
        except (RedisConnectionError, ReplyError, ScrapeError, ValueError, TypeError) as err:
            message = err.message if isinstance(err, ReplyError) else str(err)
            self._log(logging.ERROR, "scrape failed", err=message)
            fam.gauge("exporter_last_scrape_error", 1.0, {"err": message})
            fam.gauge("up", 0.0)
        else:
            fam.gauge("exporter_last_scrape_error", 0.0, {"err": ""})
            fam.gauge("up", 1.0)
        self.duration = time.monotonic() - started
        fam.gauge("exporter_last_scrape_duration_seconds", self.duration)
        return fam.metrics()

    # -- the scrape ---------------------------------------------------------------------

    def _connect(self, deadline: float | None) -> Connection:
        if self.address is None:
            raise ScrapeError(f"invalid redis address {self.where}")
        started = time.monotonic()
        try:
            return Connection.open(
                self.address, self.options.connection_timeout, deadline, self.options.tls,
                username=self.options.user, password=self.password,
            )
        finally:
            self.families.gauge("exporter_last_scrape_connect_time_seconds", time.monotonic() - started)

    def _scrape(self, deadline: float | None) -> None:
        opts = self.options
        fam = self.families
        with self._connect(deadline) as conn:
            if opts.ping_on_connect:
                started = time.monotonic()
                try:
                    conn.command("PING")
                except ReplyError as err:
                    self._log(logging.ERROR, "couldn't PING server", err=err.message)
                else:
                    fam.gauge("exporter_last_scrape_ping_time_seconds", time.monotonic() - started)
            # Two round trips instead of seven: the commands are sent in upstream's order
            # and their replies read in one go; each reply is then handled as before.
            first: list[tuple[object, ...]] = [(opts.config_command, "GET", "*"), ("INFO", "ALL")]
            if opts.set_client_name:
                first.insert(0, ("CLIENT", "SETNAME", "redis_exporter"))
            replies = conn.pipeline(first)
            if opts.set_client_name:
                setname = replies.pop(0)
                if isinstance(setname, ReplyError):
                    self._warn_once("setname", "CLIENT SETNAME refused", setname.message)
            config, info_reply = replies

            databases = 0
            if isinstance(config, ReplyError):
                self._warn_once("config", f"{opts.config_command} GET * refused: no config metrics", config.message)
            else:
                databases = self._config_metrics(config)

            info_text = "" if isinstance(info_reply, ReplyError) else as_text(info_reply)
            if not info_text:
                info_text = as_text(conn.command("INFO"))
            lines = parse_info(info_text)
            cluster = any(line.key == "cluster_enabled" and line.value.strip() == "1" for line in lines)
            version = next((line.value for line in lines if line.key == "redis_version"), "")
            major = version.split(".")[0]
            # LATENCY HISTOGRAM came with Redis 7.0; asking an older server would add an error
            # to its errorstats.
            histogram = not (major.isdigit() and int(major) < 7)
            second: list[tuple[object, ...]] = [("LATENCY", "LATEST")]
            if histogram:
                second.append(("LATENCY", "HISTOGRAM"))
            second += [("SLOWLOG", "LEN"), ("SLOWLOG", "GET", "1")]
            if cluster:
                second.insert(0, ("CLUSTER", "INFO"))
            replies = conn.pipeline(second)
            if cluster:
                cluster_reply = replies.pop(0)
                if isinstance(cluster_reply, ReplyError):
                    self._log(logging.ERROR, "CLUSTER INFO failed", err=cluster_reply.message)
                else:
                    self._cluster_info(as_text(cluster_reply))
                    databases = 1  # a cluster has only database 0
            elif databases == 0:
                databases = DEFAULT_DATABASES
            self._info_metrics(lines, databases)
            latest = replies.pop(0)
            histograms = replies.pop(0) if histogram else None
            self._latency(latest, histograms, lines)
            self._slowlog(replies[0], replies[1])
            if any(line.section == "Sentinel" for line in lines):
                sentinel_masters(conn, fam)
            if opts.export_client_list:
                self._client_list(conn)
            if opts.is_tile38:
                self._tile38(conn)
            self._key_checks(conn, deadline)
            key_group_metrics(conn, fam, parse_key_groups(opts.check_key_groups), databases,
                              opts.check_keys_batch_size, opts.max_distinct_key_groups, deadline,
                              self._target_logger())
            if opts.lua_scripts and self.address is not None:
                conn.command("SELECT", self.address.db)  # the checks above may have selected another
            for filename, script in opts.lua_scripts:
                self._lua(conn, filename, script)

    def _config_metrics(self, config: Reply) -> int:
        if not isinstance(config, list) or len(config) % 2:
            raise ScrapeError("invalid config reply")
        databases = 0
        opts = self.options
        every_key = opts.include_config_metrics
        for i in range(0, len(config), 2):
            key_raw, value_raw = config[i], config[i + 1]
            if not isinstance(key_raw, bytes) or not isinstance(value_raw, bytes):
                continue
            key = key_raw.decode("utf-8", "replace")
            if not every_key and key not in CONFIG_GAUGES and key != "databases":
                continue  # a few hundred keys of which a default scrape exports three
            value = value_raw.decode("utf-8", "replace")
            if key == "databases":
                try:
                    databases = int(value)
                except ValueError:
                    raise ScrapeError(f"invalid config value for key databases: {value!r}") from None
            number = info_mod.parse_number(value)
            if every_key and not (opts.redact_config_metrics and key in REDACTED_CONFIG_KEYS):
                self.families.gauge("config_key_value", 1.0, {"key": key, "value": value})
                if number is not None:
                    self.families.gauge("config_value", number, {"key": key})
            if key in CONFIG_GAUGES and number is not None:
                self.families.gauge("config_" + key.replace("-", "_"), number)
        return databases

    def _cluster_info(self, text: str) -> None:
        for key, value in parse_cluster_info(text):
            self._register_field(key, value)

    def _field(self, key: str) -> InfoField | None:
        row = INFO_FIELDS.get(key)
        if row is None and self.options.include_system_metrics:
            row = SYSTEM_FIELDS.get(key)
        if row is None and key.startswith(PASSTHROUGH_PREFIXES):
            row = InfoField(info_mod.sanitize_metric_name(key))
        return row

    def _register_field(self, key: str, value: str) -> None:
        row = self._field(key)
        if row is None:
            return
        number = parse_value(value)
        if number is None:
            self._log(logging.DEBUG, "couldn't parse INFO value", field=key)
            return
        self.families.add(row.metric, row.type, number / row.divisor if row.divisor != 1.0 else number)

    def _info_metrics(self, lines: list[info_mod.InfoLine], databases: int) -> None:
        fam = self.families
        values: dict[str, str] = {}
        handled_dbs: set[str] = set()
        calls: dict[str, tuple[float, float]] = {}
        latencies: dict[str, dict[float, float]] = {}
        master_host = master_port = ""
        for line in lines:
            key, value, section = line.key, line.value, line.section
            values[key] = value
            if key.startswith("master"):  # the prefix both patterns require, tested cheaply first
                if MASTER_HOST.match(key):
                    master_host = value
                if MASTER_PORT.match(key):
                    master_port = value
            if section == "Replication" and self._replication(key, value, master_host, master_port):
                continue
            if section == "Server" and key == "uptime_in_seconds":
                uptime = info_mod.parse_number(value)
                if uptime is not None:
                    fam.gauge("start_time_seconds", float(int(time.time())) - uptime)
            if section == "Commandstats":
                stat = parse_commandstat(key, value)
                if stat is not None:
                    labels = {"cmd": stat.cmd}
                    fam.counter("commands_total", stat.calls, labels)
                    fam.counter("commands_duration_seconds_total", stat.usec / 1e6, labels)
                    if stat.rejected_calls is not None and stat.failed_calls is not None:
                        fam.counter("commands_rejected_calls_total", stat.rejected_calls, labels)
                        fam.counter("commands_failed_calls_total", stat.failed_calls, labels)
                    calls[stat.cmd] = (stat.calls, stat.usec)
                continue
            if section == "Latencystats":
                parsed = parse_latencystat(key, value)
                if parsed is not None:
                    latencies[parsed[0]] = parsed[1]
                continue
            if section == "Errorstats":
                error = parse_errorstat(key, value)
                if error is not None:
                    fam.counter("errors_total", error[1], {"err": error[0]})
                continue
            if section == "Keyspace":
                stats = parse_keyspace(key, value)
                if stats is not None:
                    labels = {"db": key}
                    fam.gauge("db_keys", stats.keys, labels)
                    fam.gauge("db_keys_expiring", stats.expires, labels)
                    if stats.cached_keys is not None:
                        fam.gauge("db_keys_cached", stats.cached_keys, labels)
                    if stats.avg_ttl_seconds is not None:
                        fam.gauge("db_avg_ttl_seconds", stats.avg_ttl_seconds, labels)
                    handled_dbs.add(key)
                    continue
            if section == "Sentinel" and sentinel_info_line(fam, key, value):
                continue
            self._register_field(key, value)

        for cmd, quantiles in latencies.items():
            if cmd in calls:
                count, usec = calls[cmd]
                fam.summary("latency_percentiles_usec", {"cmd": cmd}, count, usec, quantiles)
        for index in range(databases):
            name = f"db{index}"
            if name not in handled_dbs:
                fam.gauge("db_keys", 0.0, {"db": name})
                fam.gauge("db_keys_expiring", 0.0, {"db": name})
        fam.gauge("instance_info", 1.0, {
            label: values.get(label, "") for label in (
                "role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy",
                "tcp_port", "run_id", "process_id",
            )
        })
        if values.get("role") == "slave":
            fam.gauge("slave_info", 1.0, {
                "master_host": values.get("master_host", ""),
                "master_port": values.get("master_port", ""),
                "read_only": values.get("slave_read_only", ""),
            })

    def _replication(self, key: str, value: str, master_host: str, master_port: str) -> bool:
        fam = self.families
        master = {"master_host": master_host, "master_port": master_port}
        if MASTER_LINK_STATUS.match(key):
            fam.gauge("master_link_up", 1.0 if value == "up" else 0.0, master)
            return True
        if MASTER_DIRECT.match(key):
            fam.gauge(info_mod.master_direct_metric(key), info_mod.go_atoi(value), master)
            return True
        slave = parse_slave(key, value)
        if slave is not None:
            labels = {"slave_ip": slave.ip, "slave_port": slave.port, "slave_state": slave.state}
            fam.gauge("connected_slave_offset_bytes", slave.offset, labels)
            if slave.lag is not None:
                fam.gauge("connected_slave_lag_seconds", slave.lag, labels)
            return True
        return False

    def _latency(self, latest: Reply, histograms: Reply, lines: list[info_mod.InfoLine]) -> None:
        """LATENCY LATEST and LATENCY HISTOGRAM (``None``: not asked, server older than 7.0)."""
        fam = self.families
        if isinstance(latest, ReplyError):
            self._warn_once("latency-latest", "LATENCY LATEST refused: no latency spike metrics", latest.message)
        else:
            for event in parse_latency_latest(latest):
                fam.gauge("latency_spike_last", event.last, {"event_name": event.name})
                fam.gauge("latency_spike_duration_seconds", event.duration_seconds, {"event_name": event.name})
        if histograms is None:
            return
        if isinstance(histograms, ReplyError):
            self._warn_once("latency-histogram", "LATENCY HISTOGRAM refused: no latency histograms",
                            histograms.message)
            return
        commandstats = {
            line.key[len("cmdstat_"):]: line.value for line in lines
            if line.section == "Commandstats" and line.key.startswith("cmdstat_")
        }
        for histogram in parse_latency_histogram(histograms):
            fam.histogram("commands_latencies_usec", {"cmd": histogram.cmd}, histogram.calls,
                          total_usec(commandstats, histogram.cmd), histogram.buckets)

    def _slowlog(self, length: Reply, entries: Reply) -> None:
        fam = self.families
        for reply in (length, entries):
            if isinstance(reply, ReplyError):
                self._warn_once("slowlog", "SLOWLOG refused: no slowlog metrics", reply.message)
                return
        if isinstance(length, int):
            fam.gauge("slowlog_length", float(length))
        last_id, last_duration = parse_slowlog_last(entries)
        fam.gauge("slowlog_last_id", last_id)
        fam.gauge("last_slow_execution_duration_seconds", last_duration)

    def _tile38(self, conn: Connection) -> None:
        """Tile38's SERVER EXT: field/value pairs named as the tile38_* rows of the INFO table."""
        try:
            reply = conn.command("SERVER", "EXT")
        except ReplyError as err:
            self._log(logging.ERROR, "Tile38 SERVER EXT failed", err=err.message)
            return
        if not isinstance(reply, list):
            return
        for i in range(0, len(reply) - 1, 2):
            key, raw = reply[i], reply[i + 1]
            if not isinstance(key, bytes) or not isinstance(raw, (bytes, int)):
                continue
            name = as_text(key)
            self._register_field(name if name.startswith("tile38_") else "tile38_" + name, as_text(raw))

    def _client_list(self, conn: Connection) -> None:
        try:
            text = as_text(conn.command("CLIENT", "LIST"))
        except ReplyError as err:
            self._log(logging.ERROR, "CLIENT LIST failed", err=err.message)
            return
        now = int(time.time())
        for line in text.split("\n"):
            client = parse_client_line(line.strip(), now)
            if client is None:
                continue
            labels = {k: client[k] for k in ("name", "created_at", "idle_since", "flags", "db", "omem", "cmd", "host")}
            if self.options.export_client_port:
                labels["port"] = client["port"]
            for optional in ("user", "resp"):
                if client.get(optional):
                    labels[optional] = client[optional]
            self.families.gauge("connected_clients_details", 1.0, labels)

    def _key_checks(self, conn: Connection, deadline: float | None) -> None:
        opts = self.options
        if not (opts.check_keys or opts.check_single_keys or opts.check_streams or opts.check_single_streams
                or opts.count_keys):
            return
        budget = KeyBudget(opts.max_checked_keys, deadline)
        batch = opts.check_keys_batch_size
        router = None
        if opts.is_cluster and self.address is not None:
            router = ClusterRouter(conn, self.address, opts.connection_timeout, deadline, opts.tls,
                                   opts.user, self.password)
        try:
            check_patterns = parse_key_arg(opts.check_keys)
            stream_patterns = parse_key_arg(opts.check_streams)
            # Every SCAN first, side by side (run_scans), then the checks of what they found.
            expansions = {
                (which, index): KeyScan(item.db, item.key, batch, collect=True, limit=budget.limit)
                for which, items in (("keys", check_patterns), ("streams", stream_patterns))
                for index, item in enumerate(items) if is_pattern(item.key)
            }
            counts = [KeyScan(item.db, item.key, batch, collect=False) for item in parse_key_arg(opts.count_keys)]
            run_scans(conn, [*expansions.values(), *counts], budget)

            keys = parse_key_arg(opts.check_single_keys)
            keys += self._expanded("keys", check_patterns, expansions, "error expanding key patterns")
            check_keys(conn, self.families, keys, export_values=opts.export_key_values, budget=budget,
                       logger=self._target_logger(), cluster=opts.is_cluster,
                       route=router.connection_for if router is not None else None)
            streams = parse_key_arg(opts.check_single_streams)
            streams += self._expanded("streams", stream_patterns, expansions, "error expanding stream patterns")
            check_streams(conn, self.families, streams, budget, self._target_logger())
            for scan in counts:
                if scan.error:
                    self._log(logging.ERROR, "couldn't count keys", key=scan.pattern, err=scan.error)
                elif not scan.complete:
                    self._log(logging.WARNING, "counting keys did not finish before the scrape deadline",
                              key=scan.pattern)
                else:
                    self.families.gauge("keys_count", float(scan.total), {"db": "db" + scan.db, "key": scan.pattern})
        except RedisConnectionError as err:
            # The deadline or the connection ended the checks; what was collected stays.
            self._log(logging.ERROR, "key checks stopped", err=str(err))
        finally:
            if router is not None:
                router.close()
        if budget.exhausted:
            self._log(logging.WARNING, "key checks stopped early (key limit or scrape deadline)",
                      limit=opts.max_checked_keys, skipped=",".join(sorted(set(budget.exhausted))[:5]))

    def _expanded(
        self, which: str, items: list[DbKey], scans: dict[tuple[str, int], KeyScan], what: str,
    ) -> list[DbKey]:
        """The key names of ``items``, patterns replaced by what their SCAN found, in order.

        A pattern whose SCAN failed drops every pattern's names, as upstream's expansion
        returns an error and no keys then.
        """
        out: list[DbKey] = []
        for index, item in enumerate(items):
            scan = scans.get((which, index))
            if scan is None:
                out.append(item)
            elif scan.error:
                self._log(logging.ERROR, what, err=scan.error)
                return []
            else:
                out.extend(DbKey(item.db, name) for name in scan.names)
        return out

    def _target_logger(self) -> logging.LoggerAdapter[logging.Logger]:
        return logging.LoggerAdapter(self.logger, {"target": self.where})

    def _lua(self, conn: Connection, filename: str, script: bytes) -> None:
        fam = self.families
        labels = {"filename": filename}
        try:
            reply = conn.command("EVAL", script, 0, 0)
        except ReplyError as err:
            self._log(logging.ERROR, "Lua script error", script=filename, err=err.message)
            fam.gauge("script_result", 0.0, labels)
            raise ScrapeError(err.message) from None
        if not isinstance(reply, list) or len(reply) % 2:
            fam.gauge("script_result", 0.0, labels)
            raise ScrapeError("redigo: StringMap expects even number of values result")
        if not reply:
            fam.gauge("script_result", 2.0, labels)
            return
        pairs: dict[str, str] = {}
        for i in range(0, len(reply), 2):
            pairs[as_text(reply[i])] = as_text(reply[i + 1])
        for key, raw in pairs.items():
            number = info_mod.parse_number(raw)
            if number is None:
                self._log(logging.ERROR, "error parsing Lua script results", script=filename, key=key)
                fam.gauge("script_result", 0.0, labels)
                raise ScrapeError(f'strconv.ParseFloat: parsing "{raw}": invalid syntax')
            fam.gauge("script_values", number, {"key": key, "filename": filename})
        fam.gauge("script_result", 1.0, labels)
