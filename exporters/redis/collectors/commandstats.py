"""``commandstats``: INFO's Commandstats, Errorstats and Latencystats sections as
redis_commands_*{cmd}, redis_errors_total{err} and the redis_latency_percentiles_usec summary."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import Metric
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.info import parse_commandstat, parse_errorstat, parse_latencystat


class CommandstatsCollector(ScrapeCollector):
    def collect(self) -> list[Metric]:
        fam = self.ctx.families()
        calls: dict[str, tuple[float, float]] = {}
        latencies: dict[str, dict[float, float]] = {}
        for line in self.ctx.lines:
            section = line.section
            if section == "Commandstats":
                stat = parse_commandstat(line.key, line.value)
                if stat is not None:
                    labels = {"cmd": stat.cmd}
                    fam.counter("commands_total", stat.calls, labels)
                    fam.counter("commands_duration_seconds_total", stat.usec / 1e6, labels)
                    if stat.rejected_calls is not None and stat.failed_calls is not None:
                        fam.counter("commands_rejected_calls_total", stat.rejected_calls, labels)
                        fam.counter("commands_failed_calls_total", stat.failed_calls, labels)
                    calls[stat.cmd] = (stat.calls, stat.usec)
            elif section == "Latencystats":
                parsed = parse_latencystat(line.key, line.value)
                if parsed is not None:
                    latencies[parsed[0]] = parsed[1]
            elif section == "Errorstats":
                error = parse_errorstat(line.key, line.value)
                if error is not None:
                    fam.counter("errors_total", error[1], {"err": error[0]})
        for cmd, quantiles in latencies.items():
            if cmd in calls:
                count, usec = calls[cmd]
                fam.summary("latency_percentiles_usec", {"cmd": cmd}, count, usec, quantiles)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="commandstats", factory=CommandstatsCollector,
    help="INFO Commandstats, Errorstats, Latencystats: calls, time, errors and latency percentiles per command",
)
