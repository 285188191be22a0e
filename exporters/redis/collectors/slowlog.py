"""``slowlog``: SLOWLOG LEN and the newest entry of SLOWLOG GET."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc, NoDataError
from exporters.core.metrics import Metric
from exporters.redis.context import Command, ScrapeCollector, ScrapeContext
from exporters.redis.replies import parse_slowlog_last
from exporters.redis.resp import ReplyError

LENGTH: Command = ("SLOWLOG", "LEN")
LAST: Command = ("SLOWLOG", "GET", "1")


class SlowlogCollector(ScrapeCollector):
    def commands(self) -> list[Command]:
        return [LENGTH, LAST]

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        length, entries = ctx.replies[LENGTH], ctx.replies[LAST]
        for reply in (length, entries):
            if isinstance(reply, ReplyError):
                ctx.warn_once("slowlog", "SLOWLOG refused: no slowlog metrics", reply.message)
                raise NoDataError(reply.message)
        fam = ctx.families()
        if isinstance(length, int):
            fam.gauge("slowlog_length", float(length))
        last_id, last_duration = parse_slowlog_last(entries)
        fam.gauge("slowlog_last_id", last_id)
        fam.gauge("last_slow_execution_duration_seconds", last_duration)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="slowlog", factory=SlowlogCollector, help="SLOWLOG LEN and the last entry's id and duration",
    families=(
        FamilyDoc("slowlog_length", "gauge", (), source="SLOWLOG LEN"),
        FamilyDoc("slowlog_last_id", "gauge", (), source="SLOWLOG GET 1"),
        FamilyDoc("last_slow_execution_duration_seconds", "gauge", (), source="SLOWLOG GET 1"),
    ),
)
