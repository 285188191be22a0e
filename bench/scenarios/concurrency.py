"""Each exporter alone, W scrapers back to back on their own connections.

The scrapers send identical requests, so with ``--scrape.share`` (ours, on by default) those
that overlap share one collection: ours then does less work than Go per answer. To compare
one collection per scrape, pass ``--no-scrape.share`` to ours (``--redis-ours-args=--no-scrape.share``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from bench.harness import ConcurrencyResult, ExporterUnavailable, concurrent_load
from bench.scenarios import Options, Row, Scenario, Size, environment, guarded, ints, load_ratios, seconds

log = logging.getLogger("bench")

FIGURES = ("throughput_per_second", "p50_seconds", "p99_seconds", "cpu_seconds_per_scrape", "peak_rss_bytes")


def run(opts: Options) -> Iterator[Row]:
    duration = opts.size("duration")
    for exporter in opts.exporters:
        for workers in opts.size("workers"):
            size = {"name": "workers", "value": workers}

            def one(exporter: str = exporter, workers: int = workers, size: dict[str, Any] = size) -> Row:
                with environment(exporter, opts) as (args, env):
                    pair = opts.pair(exporter, args, env)
                    log.info("concurrency/%s %d workers for %gs each", exporter, workers, duration)
                    results: list[ConcurrencyResult | str] = []
                    for launch in pair.launches:
                        try:
                            results.append(concurrent_load(launch, opts.log_dir, workers, duration,
                                                           opts.start_timeout, opts.scrape_timeout))
                        except ExporterUnavailable as err:
                            if not launch.optional:
                                raise
                            results.append(f"did not start: {err}")
                go, ours, *more = results
                assert isinstance(go, ConcurrencyResult) and isinstance(ours, ConcurrencyResult)
                return {
                    "scenario": "concurrency", "exporter": exporter, "size": size,
                    "go": go.as_dict(), "ours": ours.as_dict(), "ratio": load_ratios(go, ours, FIGURES),
                    "more_go": {launch.column: r.as_dict() if isinstance(r, ConcurrencyResult)
                                else {"column": launch.column, "first_error": r}
                                for launch, r in zip(pair.more_go, more, strict=True)},
                    "more_ratio": {launch.column: load_ratios(r, ours, FIGURES)
                                   for launch, r in zip(pair.more_go, more, strict=True)
                                   if isinstance(r, ConcurrencyResult)},
                }

            yield guarded("concurrency", exporter, size, one)


SCENARIO = Scenario(
    name="concurrency", title="Concurrent scrapers", run=run, layout="load", order=40,
    sizes={"workers": Size("1,4,10", "1,4,10", "1,2,4", ints, "concurrent scrapers"),
           "duration": Size("3", "60", "1", seconds, "seconds of load per exporter and scraper count")},
)
