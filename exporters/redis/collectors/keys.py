"""``keys``: ``-check-keys`` patterns (expanded with SCAN) and ``-check-single-keys`` as
redis_key_size, redis_key_value and redis_key_value_as_string (see ``exporters.redis.keys``)."""

from __future__ import annotations

import logging

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.cluster import ClusterRouter
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.keys import DbKey, KeyScan, check_keys, is_pattern, label_text, parse_key_arg
from exporters.redis.resp import RedisConnectionError


class Expansion:
    """Patterns of ``-check-keys`` (or ``-check-streams``) and the SCANs that expand them.

    The SCANs are run by the scrape before any collector, side by side with every other
    SCAN of the scrape (``run_scans``): the server walks one pattern while the exporter
    reads another's batch.
    """

    def __init__(self, ctx: ScrapeContext, patterns: str, single: str, what: str) -> None:
        self.ctx = ctx
        self.what = what
        self.items = parse_key_arg(patterns)
        self.single = parse_key_arg(single)
        limit = ctx.options.max_checked_keys
        self.scans = {index: KeyScan(item.db, item.key, ctx.options.check_keys_batch_size, collect=True, limit=limit)
                      for index, item in enumerate(self.items) if is_pattern(item.key)}

    def keys(self) -> list[DbKey]:
        """The single keys, then each pattern's keys as its SCAN found them.

        A pattern whose SCAN failed drops every pattern's names, as upstream's expansion
        returns an error and no keys then.
        """
        found: list[DbKey] = []
        for index, item in enumerate(self.items):
            scan = self.scans.get(index)
            if scan is None:
                found.append(item)
            elif scan.error:
                self.ctx.log(logging.ERROR, f"error expanding {self.what} patterns", err=scan.error)
                return self.single
            else:
                found.extend(DbKey(item.db, name) for name in scan.names)
        return self.single + found


def report_budget(ctx: ScrapeContext) -> None:
    budget = ctx.key_budget()
    if budget.exhausted:
        if budget.time_left():
            ctx.limit_reached("checked_keys")
        ctx.log(logging.WARNING, "key checks stopped early (key limit or scrape deadline)",
                limit=ctx.options.max_checked_keys,
                skipped=",".join(label_text(name) for name in sorted(set(budget.exhausted))[:5]))
        budget.exhausted.clear()


class KeysCollector(ScrapeCollector):
    def __init__(self, ctx: ScrapeContext) -> None:
        super().__init__(ctx)
        self.expansion = Expansion(ctx, ctx.options.check_keys, ctx.options.check_single_keys, "key")

    def scans(self) -> list[KeyScan]:
        return list(self.expansion.scans.values())

    def applies(self) -> bool:
        return bool(self.ctx.options.check_keys or self.ctx.options.check_single_keys)

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        opts = ctx.options
        fam = ctx.families()
        router = None
        if opts.is_cluster:
            router = ClusterRouter(ctx.conn, ctx.address, opts.connection_timeout, ctx.deadline, opts.tls,
                                   ctx.user, ctx.password, ctx.conn.limits)
        try:
            keys = self.expansion.keys()
            skipped = check_keys(ctx.conn, fam, keys, export_values=opts.export_key_values,
                                 value_limit=opts.key_value_limit, budget=ctx.key_budget(),
                                 logger=ctx.target_logger(), cluster=opts.is_cluster,
                                 route=router.connection_for if router is not None else None)
            if skipped:
                ctx.limit_reached("key_value_bytes")
                ctx.log(logging.DEBUG, "string values longer than -check-keys-value-bytes not exported",
                        keys=skipped, limit=opts.key_value_limit)
        except RedisConnectionError as err:
            # The deadline or the connection ended the checks; what was collected stays.
            ctx.log(logging.ERROR, "key checks stopped", err=str(err))
        finally:
            if router is not None:
                router.close()
        report_budget(ctx)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="keys", factory=KeysCollector, help="-check-keys and -check-single-keys: size and value of each key",
    families=(
        FamilyDoc("key_size", "gauge", ("db", "key"),
                  source="TYPE, then STRLEN, LLEN, SCARD, ZCARD, HLEN, XLEN or PFCOUNT"),
        FamilyDoc("key_value", "gauge", ("db", "key"), source="GETRANGE of a string value that is a number"),
        FamilyDoc("key_value_as_string", "gauge", ("db", "key", "val"),
                  source="GETRANGE of a string value that is not a number"),
    ),
)
