"""Redis multi-target: `/scrape?target=` over T targets, W scrapers back to back.

The targets are the databases of one private server under distinct URLs (each request is a
new connection and a full scrape for the exporter, as for T servers); with `-redis.addr`
empty the exporter serves only `/scrape`. Ours runs with `-allowed-targets` naming that
server, the configuration its README recommends for multi-target use.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

from bench.harness import ConcurrencyResult, ExporterUnavailable, concurrent_load
from bench.scenarios import Options, Row, Scenario, Size, environment, guarded, ints, load_ratios, seconds

log = logging.getLogger("bench")

FIGURES = ("throughput_per_second", "p50_seconds", "p99_seconds", "cpu_seconds_per_scrape", "peak_rss_bytes")


def target_paths(addr: str, count: int) -> list[str]:
    """``/scrape?target=`` paths for ``count`` distinct targets on the server at ``addr``."""
    parts = urllib.parse.urlsplit(addr if "://" in addr else "redis://" + addr)
    hosts = (parts.hostname or "127.0.0.1", "localhost")
    targets = [f"redis://{hosts[(i // 16) % 2]}:{parts.port or 6379}/{i % 16}" for i in range(count)]
    return ["/scrape?" + urllib.parse.urlencode({"target": t}) for t in targets]


def _any_answer(body: bytes) -> bool:
    return True


def run(opts: Options) -> Iterator[Row]:
    duration = opts.size("targets_duration")
    workers = opts.size("targets_workers")
    for count in opts.size("targets"):
        size = {"name": "targets", "value": count}

        def one(count: int = count, size: dict[str, Any] = size) -> Row:
            with environment("redis", opts) as (args, env):
                addr = next(a.split("=", 1)[1] for a in args if a.startswith("-redis.addr="))
                paths = target_paths(addr, count)
                host = urllib.parse.urlsplit(addr if "://" in addr else "redis://" + addr)
                pair = opts.pair("redis", ["-redis.addr="], env)
                pair.ours.argv.append(f"-allowed-targets={host.hostname}:{host.port},localhost:{host.port}")
                for launch in pair.launches:
                    # /metrics reports no server with -redis.addr empty: any answer is a good start
                    launch.good = _any_answer
                log.info("redis-targets %d targets, %d scrapers, %gs each", count, workers, duration)
                results: list[ConcurrencyResult | str] = []
                for launch in pair.launches:
                    try:
                        results.append(concurrent_load(launch, opts.log_dir, workers, duration, opts.start_timeout,
                                                       opts.scrape_timeout, paths=paths))
                    except ExporterUnavailable as err:
                        if not launch.optional:
                            raise
                        results.append(f"did not start: {err}")
            go, theirs, *more = results
            assert isinstance(go, ConcurrencyResult) and isinstance(theirs, ConcurrencyResult)
            return {
                "scenario": "redis-targets", "exporter": "redis", "size": size, "workers": workers,
                "go": go.as_dict(), "ours": theirs.as_dict(), "ratio": load_ratios(go, theirs, FIGURES),
                "more_go": {launch.column: r.as_dict() if isinstance(r, ConcurrencyResult)
                            else {"column": launch.column, "first_error": r}
                            for launch, r in zip(pair.more_go, more, strict=True)},
                "more_ratio": {launch.column: load_ratios(r, theirs, FIGURES)
                               for launch, r in zip(pair.more_go, more, strict=True)
                               if isinstance(r, ConcurrencyResult)},
            }

        yield guarded("redis-targets", "redis", size, one)


SCENARIO = Scenario(
    name="redis-targets", title="Redis: multi-target /scrape", run=run, exporter="redis", layout="load", order=45,
    sizes={"targets": Size("50,200", "50,200", "10", ints, "distinct /scrape targets"),
           "targets_workers": Size("10", "10", "2", lambda text: int(text), "concurrent scrapers"),
           "targets_duration": Size("3", "30", "1", seconds, "seconds of load per exporter and target count")},
)
