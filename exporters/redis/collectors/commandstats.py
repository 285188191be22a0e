"""``commandstats``: INFO's Commandstats, Errorstats and Latencystats sections as
redis_commands_*{cmd}, redis_errors_total{err} and the redis_latency_percentiles_usec summary."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.info import parse_commandstat, parse_errorstat, parse_latencystat

CMD = ("cmd",)


class CommandstatsCollector(ScrapeCollector):
    def collect(self) -> list[Metric]:
        fam = self.ctx.families()
        calls: dict[str, tuple[float, float]] = {}
        latencies: dict[str, dict[float, float]] = {}
        total = duration = rejected = failed = errors = None
        for line in self.ctx.lines:
            section = line.section
            if section == "Commandstats":
                stat = parse_commandstat(line.key, line.value)
                if stat is None:
                    continue
                if total is None:
                    total = fam.rows("commands_total", "counter", CMD)
                    duration = fam.rows("commands_duration_seconds_total", "counter", CMD)
                labels = (stat.cmd,)
                if total is not None and duration is not None:
                    total.add_metric(labels, stat.calls)
                    duration.add_metric(labels, stat.usec / 1e6)
                if stat.rejected_calls is not None and stat.failed_calls is not None:
                    if rejected is None:
                        rejected = fam.rows("commands_rejected_calls_total", "counter", CMD)
                        failed = fam.rows("commands_failed_calls_total", "counter", CMD)
                    if rejected is not None and failed is not None:
                        rejected.add_metric(labels, stat.rejected_calls)
                        failed.add_metric(labels, stat.failed_calls)
                calls[stat.cmd] = (stat.calls, stat.usec)
            elif section == "Latencystats":
                parsed = parse_latencystat(line.key, line.value)
                if parsed is not None:
                    latencies[parsed[0]] = parsed[1]
            elif section == "Errorstats":
                error = parse_errorstat(line.key, line.value)
                if error is not None:
                    errors = errors or fam.rows("errors_total", "counter", ("err",))
                    if errors is not None:
                        errors.add_metric((error[0],), error[1])
        summaries = fam.summaries("latency_percentiles_usec", CMD) if latencies else None
        for cmd, quantiles in latencies.items():
            if cmd in calls and summaries is not None:
                count, usec = calls[cmd]
                summaries.add_metric((cmd,), count, usec, quantiles)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="commandstats", factory=CommandstatsCollector,
    help="INFO Commandstats, Errorstats, Latencystats: calls, time, errors and latency percentiles per command",
    source="INFO Commandstats",
    families=(
        FamilyDoc("commands_total", "counter", CMD, source="INFO Commandstats `cmdstat_<cmd>` calls"),
        FamilyDoc("commands_duration_seconds_total", "counter", CMD, source="INFO Commandstats `cmdstat_<cmd>` usec"),
        FamilyDoc("commands_rejected_calls_total", "counter", CMD,
                  source="INFO Commandstats `cmdstat_<cmd>` rejected_calls"),
        FamilyDoc("commands_failed_calls_total", "counter", CMD,
                  source="INFO Commandstats `cmdstat_<cmd>` failed_calls"),
        FamilyDoc("errors_total", "counter", ("err",), source="INFO Errorstats `errorstat_<err>`"),
        FamilyDoc("latency_percentiles_usec", "summary", CMD,
                  source="INFO Latencystats `latency_percentiles_usec_<cmd>`"),
    ),
)
