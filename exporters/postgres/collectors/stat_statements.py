"""stat_statements: upstream's collector/pg_stat_statements.go.

Families: ``pg_stat_statements_block_read_seconds_total``, ``pg_stat_statements_block_write_seconds_total``,
``pg_stat_statements_calls_total``, ``pg_stat_statements_rows_total``, ``pg_stat_statements_seconds_total``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from exporters.core.metrics import Metric
from exporters.postgres.collectors._table import TableCollector, counter, spec, table
from exporters.postgres.connection import Result
from exporters.postgres.engine import NoDataError, Server

UNDEFINED_TABLE = "42P01"

_STATEMENTS = """
SELECT pg_get_userbyid(userid) AS user, pg_database.datname, pg_stat_statements.queryid,
       pg_stat_statements.calls AS calls_total,
       pg_stat_statements.{total} / 1000.0 AS seconds_total,
       pg_stat_statements.rows AS rows_total,
       pg_stat_statements.{read} / 1000.0 AS block_read_seconds_total,
       pg_stat_statements.{write} / 1000.0 AS block_write_seconds_total
FROM pg_stat_statements
JOIN pg_database ON pg_database.oid = pg_stat_statements.dbid
WHERE {total} > (SELECT percentile_cont(0.1) WITHIN GROUP (ORDER BY {total}) FROM pg_stat_statements)
ORDER BY seconds_total DESC
LIMIT 100
"""


class StatStatementsCollector(TableCollector):
    name = "stat_statements"
    queries = (
        (">=17.0.0", _STATEMENTS.format(total="total_exec_time", read="shared_blk_read_time",
                                        write="shared_blk_write_time")),
        (">=13.0.0 <17.0.0", _STATEMENTS.format(total="total_exec_time", read="blk_read_time",
                                                write="blk_write_time")),
        ("<13.0.0", _STATEMENTS.format(total="total_time", read="blk_read_time", write="blk_write_time")),
    )
    metrics = table(
        labels=("user", "datname", "queryid"),
        columns=(
            counter("calls_total", "pg_stat_statements_calls_total", "Number of times executed"),
            counter("seconds_total", "pg_stat_statements_seconds_total",
                    "Total time spent in the statement, in seconds"),
            counter("rows_total", "pg_stat_statements_rows_total",
                    "Total number of rows retrieved or affected by the statement"),
            counter("block_read_seconds_total", "pg_stat_statements_block_read_seconds_total",
                    "Total time the statement spent reading blocks, in seconds"),
            counter("block_write_seconds_total", "pg_stat_statements_block_write_seconds_total",
                    "Total time the statement spent writing blocks, in seconds"),
        ),
    )

    def collect(self, results: Sequence[Result], server: Server) -> Iterable[Metric]:
        if results and results[0].sqlstate == UNDEFINED_TABLE:
            raise NoDataError("pg_stat_statements is not installed")
        return super().collect(results, server)


SPEC = spec(StatStatementsCollector, enabled_by_default=False)
