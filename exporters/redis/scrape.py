"""One scrape of one Redis server: redis_exporter v1.58.0's metrics, fresh each time.

The order follows upstream's ``scrapeRedisHost``: connect (AUTH, SELECT), optional PING
and CLIENT SETNAME, CONFIG GET *, INFO ALL, then the collectors (``exporters.redis.collectors``):
config, cluster, info, keyspace, commandstats, latency, slowlog, sentinel, client list, Tile38,
the key checks, key groups and Lua scripts. The fixed commands go out in two pipelines
(CLIENT SETNAME, CONFIG GET, INFO; then what the collectors that apply ask for: CLUSTER INFO,
LATENCY, SLOWLOG), so a scrape costs two round trips where upstream waits for seven.

A failure to connect or to read INFO makes ``redis_up 0`` with the error in
``redis_exporter_last_scrape_error``, as does a collector whose connection fails under it or
a Lua script that fails (upstream's scrape errors). Any other collector failure costs only
that collector's metrics: ``redis_scrape_collector_success{collector} 0`` (an addition: upstream
has no per-collector status). A command the server refuses (CONFIG or LATENCY on managed
services) is logged once per target.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import cast

from exporters.core.collector import FamilyDoc, NoDataError
from exporters.core.metrics import Metric
from exporters.core.runner import CollectorRunner, collector_family_docs
from exporters.redis.collectors import SPECS
from exporters.redis.collectors.cluster import CLUSTER_INFO
from exporters.redis.collectors.config import config_databases
from exporters.redis.context import (
    Command,
    LogOnce,
    ScrapeCollector,
    ScrapeContext,
    ScrapeError,
    ScrapeOptions,
)
from exporters.redis.families import Families
from exporters.redis.info import parse_info
from exporters.redis.keys import run_scans
from exporters.redis.resp import (
    Address,
    Connection,
    RedisConnectionError,
    ReplyError,
    as_text,
    parse_address,
)

__all__ = ["LogOnce", "RedisScrape", "ScrapeOptions"]

DEFAULT_DATABASES = 16
# The error label of a failed scrape of a target no operator named (the details, which tell
# a closed port from a filtered one or from another service, are in the log only).
GENERIC_ERROR = "scrape failed (details in the exporter's log)"
# What may cut a scrape short: -check-keys-limit, -check-keys-value-bytes, -max-reply-bytes,
# -max-scrape-bytes; each scrape reports which it reached.
HELP_PREFIX = "redis_exporter"
LIMITS = ("checked_keys", "key_value_bytes", "reply_bytes", "scrape_bytes")
# For the metrics reference: the families of every scrape of a target, named without the namespace
FAMILIES = (
    FamilyDoc("up", "gauge", (), source="whether the connection and the scrape's commands worked"),
    FamilyDoc("exporter_last_scrape_error", "gauge", ("err",), source="the scrape's error, if any"),
    FamilyDoc("exporter_last_scrape_duration_seconds", "gauge", (), source="the exporter's clock"),
    FamilyDoc("exporter_last_scrape_connect_time_seconds", "gauge", (), source="the exporter's clock"),
    FamilyDoc("exporter_last_scrape_ping_time_seconds", "gauge", (), source="PING (-ping-on-connect)"),
    FamilyDoc("exporter_last_scrape_limit_reached", "gauge", ("limit",),
              source="the scrape's bounds: " + ", ".join(LIMITS) + " (ours)"),
    *(replace(doc, name=doc.name.removeprefix("redis_"), source="the collector runner (ours)")
      for doc in collector_family_docs("redis", HELP_PREFIX)),
)


class _Guarded:
    """A collector whose connection failing under it fails the scrape (the connection is
    gone: nothing after it can run), and which does not start once the scrape has failed."""

    def __init__(self, ctx: ScrapeContext, collector: ScrapeCollector) -> None:
        self.ctx = ctx
        self.collector = collector

    def collect(self) -> list[Metric]:
        if self.ctx.error is not None:
            raise NoDataError("not run: the scrape failed before")
        try:
            return self.collector.collect()
        except RedisConnectionError as err:
            self.ctx.fail(str(err))
            raise


class RedisScrape:
    """Scrapes one target once; ``run()`` returns the families (never raises)."""

    def __init__(
        self,
        target: str,
        options: ScrapeOptions,
        logger: logging.Logger,
        once: LogOnce,
        password: str = "",
        user: str = "",
        detailed_errors: bool = True,
    ) -> None:
        """``user`` and ``password`` are what this target gets: the caller decides which
        configured credentials a target may receive (user information in ``target`` wins).
        Without ``detailed_errors`` (a target a caller chose) the error label says only that
        the scrape failed; the log has the details."""
        self.target = target
        self.options = options
        self.logger = logger
        self.once = once
        self.user = user
        self.password = password
        self.detailed_errors = detailed_errors
        self.duration = 0.0
        try:
            self.address: Address | None = parse_address(target)
            self.where = self.address.redacted()
        except ValueError:
            self.address = None
            self.where = "<redacted>"

    def _log(self, level: int, message: str, **extra: object) -> None:
        self.logger.log(level, message, extra={"target": self.where, **extra})

    def run(self, deadline: float | None) -> list[Metric]:
        started = time.monotonic()
        fam = Families(self.options.namespace)
        out: list[Metric] = []
        error: str | None
        limits: set[str] = set()
        conn: Connection | None = None
        try:
            with self._connect(deadline, fam) as conn:
                ctx = self._prepare(conn, deadline, fam)
                out = self._collect(ctx)
                error = ctx.error
                limits = ctx.limits
                out.extend(ctx.failed_metrics)
        except (RedisConnectionError, ReplyError, ScrapeError, ValueError, TypeError) as err:
            error = err.message if isinstance(err, ReplyError) else str(err)
        if conn is not None and conn.limit_hit:
            limits.add(conn.limit_hit)
        for name in LIMITS:
            fam.gauge("exporter_last_scrape_limit_reached", 1.0 if name in limits else 0.0, {"limit": name})
        if error is not None:
            self._log(logging.ERROR, "scrape failed", err=error)
            label = error if self.detailed_errors else GENERIC_ERROR
            fam.gauge("exporter_last_scrape_error", 1.0, {"err": label})
            fam.gauge("up", 0.0)
        else:
            fam.gauge("exporter_last_scrape_error", 0.0, {"err": ""})
            fam.gauge("up", 1.0)
        self.duration = time.monotonic() - started
        fam.gauge("exporter_last_scrape_duration_seconds", self.duration)
        return out + fam.metrics()

    def _connect(self, deadline: float | None, fam: Families) -> Connection:
        if self.address is None:
            raise ScrapeError(f"invalid redis address {self.where}")
        started = time.monotonic()
        try:
            return Connection.open(
                self.address, self.options.connection_timeout, deadline, self.options.tls,
                username=self.user, password=self.password, limits=self.options.limits,
            )
        finally:
            fam.gauge("exporter_last_scrape_connect_time_seconds", time.monotonic() - started)

    def _prepare(self, conn: Connection, deadline: float | None, fam: Families) -> ScrapeContext:
        """PING, the first pipeline (CLIENT SETNAME, CONFIG GET *, INFO ALL) and the number
        of databases: what every collector needs, and whose failure fails the scrape."""
        opts = self.options
        assert self.address is not None  # _connect refused it otherwise
        if opts.ping_on_connect:
            started = time.monotonic()
            try:
                conn.command("PING")
            except ReplyError as err:
                self._log(logging.ERROR, "couldn't PING server", err=err.message)
            else:
                fam.gauge("exporter_last_scrape_ping_time_seconds", time.monotonic() - started)
        # -config-command=- skips CONFIG GET, as upstream does
        config_wanted = opts.config_command != "-"
        first: list[Command] = [(opts.config_command, "GET", "*")] if config_wanted else []
        first.append(("INFO", "ALL"))
        if opts.set_client_name:
            first.insert(0, ("CLIENT", "SETNAME", "redis_exporter"))
        replies = conn.pipeline(first)
        ctx = ScrapeContext(options=opts, conn=conn, address=self.address, user=self.user, password=self.password,
                            where=self.where, logger=self.logger, once=self.once,
                            config=replies[-2] if config_wanted else None, lines=[], deadline=deadline)
        if opts.set_client_name and isinstance(replies[0], ReplyError):
            ctx.warn_once("setname", "CLIENT SETNAME refused", replies[0].message)
        databases = 0
        if config_wanted and not isinstance(ctx.config, ReplyError):
            databases = config_databases(ctx.config)
        info_reply = replies[-1]
        info_text = "" if isinstance(info_reply, ReplyError) else as_text(info_reply)
        if not info_text:
            info_text = as_text(conn.command("INFO"))
        ctx.lines = parse_info(info_text)
        ctx.cluster = any(line.key == "cluster_enabled" and line.value.strip() == "1" for line in ctx.lines)
        if ctx.cluster:
            ctx.databases = databases
        else:
            ctx.databases = databases or DEFAULT_DATABASES
        return ctx

    def _collect(self, ctx: ScrapeContext) -> list[Metric]:
        """The second pipeline (what the collectors that apply ask for), every SCAN of the key
        checks side by side, then the collectors."""
        collectors: dict[str, ScrapeCollector] = {}
        for spec in SPECS:
            collector = cast(ScrapeCollector, spec.factory(ctx))
            if collector.applies():
                collectors[spec.name] = collector
        second: list[Command] = []
        for collector in collectors.values():
            second.extend(collector.commands())
        if second:
            ctx.replies = dict(zip(second, ctx.conn.pipeline(second), strict=True))
        scans = [scan for collector in collectors.values() for scan in collector.scans()]
        if scans:
            try:
                run_scans(ctx.conn, scans, ctx.key_budget())
            except RedisConnectionError as err:
                # what the scans found so far stays; the key-check collectors report the rest
                ctx.log(logging.ERROR, "key checks stopped", err=str(err))
        cluster_info = ctx.replies.get(CLUSTER_INFO)
        if cluster_info is not None and not isinstance(cluster_info, ReplyError):
            ctx.databases = 1  # a cluster has only database 0
        runner = CollectorRunner(self.options.namespace, {name: _Guarded(ctx, c) for name, c in collectors.items()},
                                 ctx.target_logger(), help_prefix=HELP_PREFIX, inline=True)
        # no deadline here: every read of the connection is bounded by it
        return runner.collect()
