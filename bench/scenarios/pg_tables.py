"""PostgreSQL: a scratch database with N tables (one row, one index each), dropped after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import services
from bench.scenarios import Options, Row, Scenario, Size, compare_row, guarded
from bench.targets import postgres_args, postgres_env


def run(opts: Options) -> Iterator[Row]:
    queries = services.queries_file(opts.queries)
    for tables in opts.size("tables"):
        size = {"name": "tables", "value": tables}

        def one(tables: int = tables, size: dict[str, Any] = size) -> Row:
            with services.scratch_database(opts.pg_dsn, tables) as dsn:
                pair = opts.pair("postgres", postgres_args(queries), postgres_env(dsn))
                extra = {"queries_file": Path(queries).name if queries else None,
                         "ours_extra_args": " ".join(opts.ours_args.get("postgres", ())) or None}
                return compare_row("pg-tables", pair, size, opts, opts.scale_scrapes, extra)

        yield guarded("pg-tables", "postgres", size, one)


SCENARIO = Scenario(
    name="pg-tables", title="PostgreSQL: tables in the scraped database", run=run, exporter="postgres",
    sizes={"tables": Size("100,1000,3000", "1000,3000,10000", "10,50,100", help="table counts")},
    order=10,
)
