"""statio_user_tables: upstream's collector/pg_statio_user_tables.go.

Families: ``pg_statio_user_tables_heap_blocks_hit``, ``pg_statio_user_tables_heap_blocks_read``,
``pg_statio_user_tables_idx_blocks_hit``, ``pg_statio_user_tables_idx_blocks_read``,
``pg_statio_user_tables_tidx_blocks_hit``, ``pg_statio_user_tables_tidx_blocks_read``,
``pg_statio_user_tables_toast_blocks_hit``, ``pg_statio_user_tables_toast_blocks_read``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import ALL, TableCollector, counter, spec, table

_TABLE_LABELS = ("datname", "schemaname", "relname")


class StatioUserTablesCollector(TableCollector):
    name = "statio_user_tables"
    queries = ((ALL, """
SELECT current_database() AS datname, schemaname, relname, heap_blks_read, heap_blks_hit, idx_blks_read,
       idx_blks_hit, toast_blks_read, toast_blks_hit, tidx_blks_read, tidx_blks_hit
FROM pg_statio_user_tables
"""),)
    metrics = table(
        labels=_TABLE_LABELS,
        columns=(
            counter("heap_blks_read", "pg_statio_user_tables_heap_blocks_read",
                    "Number of disk blocks read from this table"),
            counter("heap_blks_hit", "pg_statio_user_tables_heap_blocks_hit", "Number of buffer hits in this table"),
            counter("idx_blks_read", "pg_statio_user_tables_idx_blocks_read",
                    "Number of disk blocks read from all indexes on this table"),
            counter("idx_blks_hit", "pg_statio_user_tables_idx_blocks_hit",
                    "Number of buffer hits in all indexes on this table"),
            counter("toast_blks_read", "pg_statio_user_tables_toast_blocks_read",
                    "Number of disk blocks read from this table's TOAST table (if any)"),
            counter("toast_blks_hit", "pg_statio_user_tables_toast_blocks_hit",
                    "Number of buffer hits in this table's TOAST table (if any)"),
            counter("tidx_blks_read", "pg_statio_user_tables_tidx_blocks_read",
                    "Number of disk blocks read from this table's TOAST table indexes (if any)"),
            counter("tidx_blks_hit", "pg_statio_user_tables_tidx_blocks_hit",
                    "Number of buffer hits in this table's TOAST table indexes (if any)"),
        ),
    )


SPEC = spec(StatioUserTablesCollector, enabled_by_default=True)
