"""``latency``: LATENCY LATEST (redis_latency_spike_*) and, from Redis 7.0, LATENCY HISTOGRAM
(the redis_commands_latencies_usec histograms)."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc, NoDataError
from exporters.core.metrics import Metric
from exporters.redis.context import Command, ScrapeCollector, ScrapeContext
from exporters.redis.replies import CommandUsec, parse_latency_histogram, parse_latency_latest
from exporters.redis.resp import ReplyError

LATEST: Command = ("LATENCY", "LATEST")
HISTOGRAM: Command = ("LATENCY", "HISTOGRAM")


class LatencyCollector(ScrapeCollector):
    def __init__(self, ctx: ScrapeContext) -> None:
        super().__init__(ctx)
        version = next((line.value for line in ctx.lines if line.key == "redis_version"), "")
        major = version.split(".")[0]
        # LATENCY HISTOGRAM came with Redis 7.0; asking an older server would add an error
        # to its errorstats.
        self.histogram = not (major.isdigit() and int(major) < 7)

    def commands(self) -> list[Command]:
        return [LATEST, HISTOGRAM] if self.histogram else [LATEST]

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        fam = ctx.families()
        refused = []
        latest = ctx.replies[LATEST]
        if isinstance(latest, ReplyError):
            ctx.warn_once("latency-latest", "LATENCY LATEST refused: no latency spike metrics", latest.message)
            refused.append(latest.message)
        else:
            for event in parse_latency_latest(latest):
                fam.gauge("latency_spike_last", event.last, {"event_name": event.name})
                fam.gauge("latency_spike_duration_seconds", event.duration_seconds, {"event_name": event.name})
        histograms = ctx.replies.get(HISTOGRAM) if self.histogram else None
        if isinstance(histograms, ReplyError):
            ctx.warn_once("latency-histogram", "LATENCY HISTOGRAM refused: no latency histograms",
                          histograms.message)
            refused.append(histograms.message)
        elif histograms is not None:
            usec = CommandUsec({
                line.key[len("cmdstat_"):]: line.value for line in ctx.section("Commandstats")
                if line.key.startswith("cmdstat_")
            })
            family = fam.histograms("commands_latencies_usec", ("cmd",))
            for histogram in parse_latency_histogram(histograms):
                if family is not None:
                    family.add_metric((histogram.cmd,), histogram.calls, usec.total(histogram.cmd),
                                      histogram.buckets)
        if refused and not fam.metrics():
            raise NoDataError("; ".join(refused))
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="latency", factory=LatencyCollector, help="LATENCY LATEST and LATENCY HISTOGRAM (Redis 7.0 and later)",
    families=(
        FamilyDoc("latency_spike_last", "gauge", ("event_name",), source="LATENCY LATEST"),
        FamilyDoc("latency_spike_duration_seconds", "gauge", ("event_name",), source="LATENCY LATEST"),
        FamilyDoc("commands_latencies_usec", "histogram", ("cmd",), source="LATENCY HISTOGRAM"),
    ),
)
