"""``streams``: ``-check-streams`` patterns and ``-check-single-streams`` as redis_stream_*
from XINFO STREAM / GROUPS / CONSUMERS."""

from __future__ import annotations

import logging

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import Metric
from exporters.redis.collectors.keys import Expansion, report_budget
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.keys import KeyScan, check_streams
from exporters.redis.resp import RedisConnectionError


class StreamsCollector(ScrapeCollector):
    def __init__(self, ctx: ScrapeContext) -> None:
        super().__init__(ctx)
        self.expansion = Expansion(ctx, ctx.options.check_streams, ctx.options.check_single_streams, "stream")

    def scans(self) -> list[KeyScan]:
        return list(self.expansion.scans.values())

    def applies(self) -> bool:
        return bool(self.ctx.options.check_streams or self.ctx.options.check_single_streams)

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        fam = ctx.families()
        try:
            streams = self.expansion.keys()
            check_streams(ctx.conn, fam, streams, ctx.key_budget(), ctx.target_logger())
        except RedisConnectionError as err:
            ctx.log(logging.ERROR, "key checks stopped", err=str(err))
        report_budget(ctx)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="streams", factory=StreamsCollector,
    help="-check-streams and -check-single-streams: length, groups, consumers and lag of each stream",
)
