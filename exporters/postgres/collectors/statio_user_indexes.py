"""statio_user_indexes: upstream's collector/pg_statio_user_indexes.go.

Families: ``pg_statio_user_indexes_idx_blks_hit_total``, ``pg_statio_user_indexes_idx_blks_read_total``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import ALL, TableCollector, counter, spec, table


class StatioUserIndexesCollector(TableCollector):
    name = "statio_user_indexes"
    queries = ((ALL, "SELECT schemaname, relname, indexrelname, idx_blks_read, idx_blks_hit "
                    "FROM pg_statio_user_indexes"),)
    metrics = table(
        labels=("schemaname", "relname", "indexrelname"),
        columns=(
            counter("idx_blks_read", "pg_statio_user_indexes_idx_blks_read_total",
                    "Number of disk blocks read from this index"),
            counter("idx_blks_hit", "pg_statio_user_indexes_idx_blks_hit_total", "Number of buffer hits in this index"),
        ),
    )


SPEC = spec(StatioUserIndexesCollector, enabled_by_default=False)
