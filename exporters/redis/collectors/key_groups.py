"""``key_groups``: ``-check-key-groups``, keys and memory per group of key names in every
database (see ``exporters.redis.key_groups``)."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.key_groups import key_group_metrics, parse_key_groups


class KeyGroupsCollector(ScrapeCollector):
    def applies(self) -> bool:
        # redis_last_key_groups_scrape_duration_milliseconds is there even without groups
        return True

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        opts = ctx.options
        fam = ctx.families()
        key_group_metrics(ctx.conn, fam, parse_key_groups(opts.check_key_groups), ctx.databases,
                          opts.check_keys_batch_size, opts.max_distinct_key_groups, ctx.deadline,
                          ctx.target_logger())
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="key_groups", factory=KeyGroupsCollector, help="-check-key-groups: keys and memory per key group",
    source="SCAN and MEMORY USAGE in each database of -check-key-groups",
    families=(
        FamilyDoc("key_group_count", "gauge", ("db", "key_group")),
        FamilyDoc("key_group_memory_usage_bytes", "gauge", ("db", "key_group")),
        FamilyDoc("number_of_distinct_key_groups", "gauge", ("db",)),
        FamilyDoc("last_key_groups_scrape_duration_milliseconds", "gauge", (), source="the exporter's clock"),
    ),
)
