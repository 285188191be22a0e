"""stat_database: upstream's collector/pg_stat_database.go.

Families: ``pg_stat_database_blk_read_time``, ``pg_stat_database_blk_write_time``,
``pg_stat_database_blks_hit``, ``pg_stat_database_blks_read``, ``pg_stat_database_conflicts``,
``pg_stat_database_deadlocks``, ``pg_stat_database_numbackends``, ``pg_stat_database_stats_reset``,
``pg_stat_database_temp_bytes``, ``pg_stat_database_temp_files``, ``pg_stat_database_tup_deleted``,
``pg_stat_database_tup_fetched``, ``pg_stat_database_tup_inserted``, ``pg_stat_database_tup_returned``,
``pg_stat_database_tup_updated``, ``pg_stat_database_xact_commit``, ``pg_stat_database_xact_rollback``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import ALL, TableCollector, counter, gauge, spec, table

_DB_LABELS = ("datid", "datname")


class StatDatabaseCollector(TableCollector):
    name = "stat_database"
    queries = ((ALL, """
SELECT datid, datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched,
       tup_inserted, tup_updated, tup_deleted, conflicts, temp_files, temp_bytes, deadlocks, blk_read_time,
       blk_write_time, stats_reset
FROM pg_stat_database
"""),)
    metrics = table(
        labels=_DB_LABELS,
        columns=(
            gauge("numbackends", "pg_stat_database_numbackends",
                  "Number of backends currently connected to this database. This is the only column in this view that "
                  "returns a value reflecting current state; all other columns return the accumulated values since the "
                  "last reset."),
            counter("xact_commit", "pg_stat_database_xact_commit",
                    "Number of transactions in this database that have been committed"),
            counter("xact_rollback", "pg_stat_database_xact_rollback",
                    "Number of transactions in this database that have been rolled back"),
            counter("blks_read", "pg_stat_database_blks_read", "Number of disk blocks read in this database"),
            counter("blks_hit", "pg_stat_database_blks_hit",
                    "Number of times disk blocks were found already in the buffer cache, so that a read was not "
                    "necessary (this only includes hits in the PostgreSQL buffer cache, not the operating system's "
                    "file system cache)"),
            counter("tup_returned", "pg_stat_database_tup_returned",
                    "Number of rows returned by queries in this database"),
            counter("tup_fetched", "pg_stat_database_tup_fetched",
                    "Number of rows fetched by queries in this database"),
            counter("tup_inserted", "pg_stat_database_tup_inserted",
                    "Number of rows inserted by queries in this database"),
            counter("tup_updated", "pg_stat_database_tup_updated",
                    "Number of rows updated by queries in this database"),
            counter("tup_deleted", "pg_stat_database_tup_deleted",
                    "Number of rows deleted by queries in this database"),
            counter("conflicts", "pg_stat_database_conflicts",
                    "Number of queries canceled due to conflicts with recovery in this database. (Conflicts occur only"
                    " on standby servers; see pg_stat_database_conflicts for details.)"),
            counter("temp_files", "pg_stat_database_temp_files",
                    "Number of temporary files created by queries in this database. All temporary files are counted, "
                    "regardless of why the temporary file was created (e.g., sorting or hashing), and regardless of "
                    "the log_temp_files setting."),
            counter("temp_bytes", "pg_stat_database_temp_bytes",
                    "Total amount of data written to temporary files by queries in this database. All temporary files "
                    "are counted, regardless of why the temporary file was created, and regardless of the "
                    "log_temp_files setting."),
            counter("deadlocks", "pg_stat_database_deadlocks", "Number of deadlocks detected in this database"),
            counter("blk_read_time", "pg_stat_database_blk_read_time",
                    "Time spent reading data file blocks by backends in this database, in milliseconds"),
            counter("blk_write_time", "pg_stat_database_blk_write_time",
                    "Time spent writing data file blocks by backends in this database, in milliseconds"),
            counter("stats_reset", "pg_stat_database_stats_reset", "Time at which these statistics were last reset"),
        ),
        required=("datid", "datname", "numbackends", "xact_commit", "xact_rollback", "blks_read", "blks_hit",
              "tup_returned", "tup_fetched", "tup_inserted", "tup_updated", "tup_deleted", "conflicts",
              "temp_files", "temp_bytes", "deadlocks", "blk_read_time", "blk_write_time"),
    )


SPEC = spec(StatDatabaseCollector, enabled_by_default=True)
