"""stat_user_tables: upstream's collector/pg_stat_user_tables.go.

Families: ``pg_stat_user_tables_analyze_count``, ``pg_stat_user_tables_autoanalyze_count``,
``pg_stat_user_tables_autovacuum_count``, ``pg_stat_user_tables_idx_scan``,
``pg_stat_user_tables_idx_tup_fetch``, ``pg_stat_user_tables_last_analyze``,
``pg_stat_user_tables_last_autoanalyze``, ``pg_stat_user_tables_last_autovacuum``,
``pg_stat_user_tables_last_vacuum``, ``pg_stat_user_tables_n_dead_tup``, ``pg_stat_user_tables_n_live_tup``,
``pg_stat_user_tables_n_mod_since_analyze``, ``pg_stat_user_tables_n_tup_del``,
``pg_stat_user_tables_n_tup_hot_upd``, ``pg_stat_user_tables_n_tup_ins``, ``pg_stat_user_tables_n_tup_upd``,
``pg_stat_user_tables_seq_scan``, ``pg_stat_user_tables_seq_tup_read``, ``pg_stat_user_tables_size_bytes``,
``pg_stat_user_tables_vacuum_count``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import ALL, TableCollector, counter, gauge, spec, table

_TABLE_LABELS = ("datname", "schemaname", "relname")

_EPOCH0 = "'1970-01-01Z'"


class StatUserTablesCollector(TableCollector):
    name = "stat_user_tables"
    queries = ((ALL, f"""
SELECT current_database() AS datname, schemaname, relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch,
       n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze,
       COALESCE(last_vacuum, {_EPOCH0}) AS last_vacuum, COALESCE(last_autovacuum, {_EPOCH0}) AS last_autovacuum,
       COALESCE(last_analyze, {_EPOCH0}) AS last_analyze,
       COALESCE(last_autoanalyze, {_EPOCH0}) AS last_autoanalyze,
       vacuum_count, autovacuum_count, analyze_count, autoanalyze_count,
       CASE WHEN EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'relation' AND l.relation = relid
                                AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
            THEN NULL ELSE pg_total_relation_size(relid) END AS total_size
FROM pg_stat_user_tables
"""),)
    metrics = table(
        labels=_TABLE_LABELS,
        columns=(
            counter("seq_scan", "pg_stat_user_tables_seq_scan", "Number of sequential scans initiated on this table"),
            counter("seq_tup_read", "pg_stat_user_tables_seq_tup_read",
                    "Number of live rows fetched by sequential scans"),
            counter("idx_scan", "pg_stat_user_tables_idx_scan", "Number of index scans initiated on this table"),
            counter("idx_tup_fetch", "pg_stat_user_tables_idx_tup_fetch", "Number of live rows fetched by index scans"),
            counter("n_tup_ins", "pg_stat_user_tables_n_tup_ins", "Number of rows inserted"),
            counter("n_tup_upd", "pg_stat_user_tables_n_tup_upd", "Number of rows updated"),
            counter("n_tup_del", "pg_stat_user_tables_n_tup_del", "Number of rows deleted"),
            counter("n_tup_hot_upd", "pg_stat_user_tables_n_tup_hot_upd",
                    "Number of rows HOT updated (i.e., with no separate index update required)"),
            gauge("n_live_tup", "pg_stat_user_tables_n_live_tup", "Estimated number of live rows"),
            gauge("n_dead_tup", "pg_stat_user_tables_n_dead_tup", "Estimated number of dead rows"),
            gauge("n_mod_since_analyze", "pg_stat_user_tables_n_mod_since_analyze",
                  "Estimated number of rows changed since last analyze"),
            gauge("last_vacuum", "pg_stat_user_tables_last_vacuum",
                  "Last time at which this table was manually vacuumed (not counting VACUUM FULL)"),
            gauge("last_autovacuum", "pg_stat_user_tables_last_autovacuum",
                  "Last time at which this table was vacuumed by the autovacuum daemon"),
            gauge("last_analyze", "pg_stat_user_tables_last_analyze",
                  "Last time at which this table was manually analyzed"),
            gauge("last_autoanalyze", "pg_stat_user_tables_last_autoanalyze",
                  "Last time at which this table was analyzed by the autovacuum daemon"),
            counter("vacuum_count", "pg_stat_user_tables_vacuum_count",
                    "Number of times this table has been manually vacuumed (not counting VACUUM FULL)"),
            counter("autovacuum_count", "pg_stat_user_tables_autovacuum_count",
                    "Number of times this table has been vacuumed by the autovacuum daemon"),
            counter("analyze_count", "pg_stat_user_tables_analyze_count",
                    "Number of times this table has been manually analyzed"),
            counter("autoanalyze_count", "pg_stat_user_tables_autoanalyze_count",
                    "Number of times this table has been analyzed by the autovacuum daemon"),
            # NULL while an ACCESS EXCLUSIVE lock is held or queued: the size function would wait behind it
            gauge("total_size", "pg_stat_user_tables_size_bytes",
                  "Total disk space used by this table, in bytes, including all indexes and TOAST data", null=None),
        ),
    )


SPEC = spec(StatUserTablesCollector, enabled_by_default=True)
