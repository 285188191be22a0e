"""long_running_transactions: upstream's collector/pg_long_running_transactions.go.

Families: ``pg_long_running_transactions``, ``pg_long_running_transactions_oldest_timestamp_seconds``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import (
    ALL,
    TableCollector,
    gauge,
    spec,
    table,
)


class LongRunningTransactionsCollector(TableCollector):
    name = "long_running_transactions"
    queries = ((ALL, """
SELECT COUNT(*) AS transactions,
       COALESCE(MAX(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)), 0) AS oldest_timestamp_seconds
FROM pg_catalog.pg_stat_activity
WHERE state IS DISTINCT FROM 'idle' AND query NOT LIKE 'autovacuum:%'
"""),)
    metrics = table(
        columns=(
            gauge("transactions", "pg_long_running_transactions", "Current number of long running transactions"),
            gauge("oldest_timestamp_seconds", "pg_long_running_transactions_oldest_timestamp_seconds",
                  "The current maximum transaction age in seconds"),
        ),
    )


SPEC = spec(LongRunningTransactionsCollector, enabled_by_default=False)
