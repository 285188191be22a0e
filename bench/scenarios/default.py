"""Each selected exporter at default settings: PostgreSQL from --pg-dsn, a private empty Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.scenarios import Options, Row, Scenario, compare_row, environment, guarded


def run(opts: Options) -> Iterator[Row]:
    for exporter in opts.exporters:
        size = {"name": "default", "value": 0}

        def one(exporter: str = exporter, size: dict[str, Any] = size) -> Row:
            with environment(exporter, opts) as (args, env):
                return compare_row("default", opts.pair(exporter, args, env), size, opts, opts.scrapes)

        yield guarded("default", exporter, size, one)


SCENARIO = Scenario(name="default", title="Default settings, scraped in turn", run=run, layout="side-by-side",
                    order=0)
