"""Redis: a private server with N keys, scraped with -check-keys and -count-keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.scenarios import Options, Row, Scenario, Size, compare_row, environment, guarded


def run(opts: Options) -> Iterator[Row]:
    for keys in opts.size("keys"):
        size = {"name": "keys", "value": keys}

        def one(keys: int = keys, size: dict[str, Any] = size) -> Row:
            with environment("redis", opts, keys, opts.check_keys, opts.count_keys) as (args, env):
                extra = {"check_keys": opts.check_keys, "count_keys": opts.count_keys,
                         "ours_extra_args": " ".join(opts.ours_args.get("redis", ())) or None}
                pair = opts.pair("redis", args, env)
                for launch in pair.launches:
                    launch.watch = ("redis_keys_count",)
                return compare_row("redis-keys", pair, size, opts, opts.scale_scrapes, extra)

        yield guarded("redis-keys", "redis", size, one)


SCENARIO = Scenario(
    name="redis-keys", title="Redis: keys, with -check-keys and -count-keys", run=run, exporter="redis",
    sizes={"keys": Size("10000,100000,300000", "10000,100000,1000000", "1000,5000,10000", help="key counts")},
    order=20,
)
