"""``count_keys``: ``-count-keys`` patterns counted with SCAN as redis_keys_count{db,key}."""

from __future__ import annotations

import logging

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.collectors.keys import report_budget
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.keys import KeyScan, label_text, parse_key_arg


class CountKeysCollector(ScrapeCollector):
    def __init__(self, ctx: ScrapeContext) -> None:
        super().__init__(ctx)
        batch = ctx.options.check_keys_batch_size
        self.counts = [KeyScan(item.db, item.key, batch, collect=False)
                       for item in parse_key_arg(ctx.options.count_keys)]

    def scans(self) -> list[KeyScan]:
        return self.counts

    def applies(self) -> bool:
        return bool(self.ctx.options.count_keys)

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        fam = ctx.families()
        for scan in self.counts:
            if scan.error:
                ctx.log(logging.ERROR, "couldn't count keys", key=label_text(scan.pattern), err=scan.error)
            elif not scan.complete:
                ctx.log(logging.WARNING, "counting keys did not finish before the scrape deadline",
                        key=label_text(scan.pattern))
            else:
                fam.gauge("keys_count", float(scan.total), {"db": "db" + scan.db, "key": label_text(scan.pattern)})
        report_budget(ctx)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="count_keys", factory=CountKeysCollector, help="-count-keys: keys matching each pattern, counted with SCAN",
    source="SCAN MATCH <pattern> in each database of -count-keys",
    families=(
        FamilyDoc("keys_count", "gauge", ("db", "key")),
    ),
)
