"""stat_activity_autovacuum: upstream's collector/pg_stat_activity_autovacuum.go.

Families: ``pg_stat_activity_autovacuum_timestamp_seconds``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import ALL, TableCollector, gauge, spec, table


class StatActivityAutovacuumCollector(TableCollector):
    name = "stat_activity_autovacuum"
    queries = ((ALL, "SELECT SPLIT_PART(query, '.', 2) AS relname, EXTRACT(EPOCH FROM xact_start) AS timestamp_seconds "
                    "FROM pg_catalog.pg_stat_activity WHERE query LIKE 'autovacuum:%'"),)
    metrics = table(
        labels=("relname",),
        columns=(gauge("timestamp_seconds", "pg_stat_activity_autovacuum_timestamp_seconds",
                "Start timestamp of the vacuum process in seconds", null=None),),
    )


SPEC = spec(StatActivityAutovacuumCollector, enabled_by_default=False)
