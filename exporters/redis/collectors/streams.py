"""``streams``: ``-check-streams`` patterns and ``-check-single-streams`` as redis_stream_*
from XINFO STREAM / GROUPS / CONSUMERS."""

from __future__ import annotations

import logging

from exporters.core.collector import CollectorSpec, FamilyDoc
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


_STREAM = ("db", "stream")
_GROUP = (*_STREAM, "group")
_CONSUMER = (*_GROUP, "consumer")
STREAM_FAMILIES = (
    *(FamilyDoc(name, "gauge", _STREAM, source=f"XINFO STREAM `{field}`") for name, field in (
        ("stream_length", "length"), ("stream_radix_tree_keys", "radix-tree-keys"),
        ("stream_radix_tree_nodes", "radix-tree-nodes"), ("stream_last_generated_id", "last-generated-id"),
        ("stream_groups", "groups"), ("stream_max_deleted_entry_id", "max-deleted-entry-id"),
        ("stream_first_entry_id", "first-entry"), ("stream_last_entry_id", "last-entry"))),
    *(FamilyDoc(name, "gauge", _GROUP, source=f"XINFO GROUPS `{field}`") for name, field in (
        ("stream_group_consumers", "consumers"), ("stream_group_messages_pending", "pending"),
        ("stream_group_last_delivered_id", "last-delivered-id"), ("stream_group_entries_read", "entries-read"),
        ("stream_group_lag", "lag"))),
    *(FamilyDoc(name, "gauge", _CONSUMER, source=f"XINFO CONSUMERS `{field}`") for name, field in (
        ("stream_group_consumer_messages_pending", "pending"), ("stream_group_consumer_idle_seconds", "idle"))),
)

SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="streams", factory=StreamsCollector,
    help="-check-streams and -check-single-streams: length, groups, consumers and lag of each stream",
    source="XINFO STREAM, XINFO GROUPS, XINFO CONSUMERS",
    families=STREAM_FAMILIES,
)
