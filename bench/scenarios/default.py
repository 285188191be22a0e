"""Each selected exporter at default settings: PostgreSQL from --pg-dsn, a private empty Redis.

The postgres row also carries the psycopg floor (bench/floor.py): what a process that only
imports psycopg and connects to the same server costs, measured in the same run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.floor import psycopg_floor
from bench.scenarios import Options, Row, Scenario, compare_row, environment, guarded


def run(opts: Options) -> Iterator[Row]:
    for exporter in opts.exporters:
        size = {"name": "default", "value": 0}

        def one(exporter: str = exporter, size: dict[str, Any] = size) -> Row:
            with environment(exporter, opts) as (args, env):
                extra = {"psycopg_floor": psycopg_floor(opts.pg_dsn)} if exporter == "postgres" else None
                return compare_row("default", opts.pair(exporter, args, env), size, opts, opts.scrapes, extra)

        yield guarded("default", exporter, size, one)


SCENARIO = Scenario(name="default", title="Default settings, scraped in turn", run=run, layout="side-by-side",
                    order=0)
