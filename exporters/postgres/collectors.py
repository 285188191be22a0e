"""The collectors of postgres_exporter's ``collector/`` package, as one table.

Each row names the collector (``--[no-]collector.NAME``), whether it is on by default,
its query per server version, its label columns and column -> (metric, type, help)
mappings. A metric name leads here in one hop: ``pg_<collector>_<metric>``.

Every query runs in the scrape's read-only session (see ``connection.py``). Version
differences are rows of ``queries``: PostgreSQL 13 renamed pg_stat_statements' time
columns, 17 moved checkpoint counters from pg_stat_bgwriter to pg_stat_checkpointer
and renamed pg_stat_statements' block timings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import ExactFamily, HistogramFamily, Metric, exact_counter, exact_gauge
from exporters.postgres.connection import Result, Session
from exporters.postgres.values import to_float, to_float_list, to_label
from exporters.postgres.versions import Version, parse_range


class PgContext:
    """What the collectors share: the current scrape's session and the parsed options."""

    def __init__(self, exclude_databases: Sequence[str] = ()) -> None:
        self.exclude_databases = [d for d in exclude_databases if d]
        self.session: Session | None = None

    def current(self) -> Session:
        if self.session is None:
            raise RuntimeError("no database session for this scrape")
        return self.session


@dataclass(frozen=True)
class Column:
    """Result column -> family. ``null`` is the value for NULL; None drops the sample."""

    column: str
    name: str
    kind: str
    help: str
    null: float | None = 0.0


@dataclass(frozen=True)
class Table:
    """A collector's query (per version range), labels and metric columns."""

    queries: tuple[tuple[str, str], ...]
    labels: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    label_null: str = "unknown"
    # a NULL in one of these columns drops the whole row
    required: tuple[str, ...] = ()
    # the query takes the excluded databases as its single parameter
    takes_excluded: bool = False
    # a relation that must exist (an extension's view), else "no data"
    needs_relation: str = ""
    # column -> metric names present only when that (boolean) column is true
    only_when: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def query_for(self, version: Version) -> str | None:
        for versions, text in self.queries:
            if parse_range(versions)(version):
                return text
        return None


def families_from_result(table: Table, result: Result) -> list[Metric]:
    """Build the families of a ``Table`` from its query result (pure)."""
    index = {name: i for i, name in enumerate(result.columns)}
    fams: dict[str, ExactFamily] = {}
    for col in table.columns:
        make = exact_counter if col.kind == "counter" else exact_gauge
        fams[col.name] = make(col.name, col.help, table.labels)
    required = [index[r] for r in table.required]
    label_index = [index[name] for name in table.labels]
    only_when = [(index[flag], names) for flag, names in table.only_when.items()]
    # worked out once, not per row: (column index, family's add_metric, name, value for NULL or None to drop)
    plan = [(index[col.column], fams[col.name].add_metric, col.name, col.null) for col in table.columns]
    null_label = table.label_null
    for row in result.rows:
        if any(row[i] is None for i in required):
            continue
        # one tuple of label values per row, shared by the row's series
        labels = tuple(null_label if row[i] is None else to_label(row[i]) for i in label_index)
        hidden: set[str] = set()
        for flag_index, names in only_when:
            if not row[flag_index]:
                hidden.update(names)
        for i, add, name, null in plan:
            if hidden and name in hidden:
                continue
            raw = row[i]
            if raw is None:
                if null is None:
                    continue
                add(labels, null)
            else:
                add(labels, to_float(raw))
    return list(fams.values())


class TableCollector:
    """Runs a ``Table`` on the current session."""

    def __init__(self, table: Table, context: PgContext) -> None:
        self.table = table
        self.context = context

    def collect(self) -> Iterable[Metric]:
        session = self.context.current()
        query = self.table.query_for(session.version)
        if query is None:
            raise NoDataError("not available on this PostgreSQL version")
        if self.table.needs_relation:
            found = session.query("SELECT to_regclass(%s) IS NOT NULL", [self.table.needs_relation])
            if not found.rows or not found.rows[0][0]:
                raise NoDataError(f"{self.table.needs_relation} is not installed")
        return families_from_result(self.table, session.query(query, self._params()))

    def statement(self, version: Version) -> tuple[str, list[Any]] | None:
        """The query ``collect`` will run on a server of this version, when known in advance."""
        if self.table.needs_relation:
            return None
        query = self.table.query_for(version)
        return None if query is None else (query, self._params())

    def _params(self) -> list[Any]:
        return [self.context.exclude_databases] if self.table.takes_excluded else []


class ProcessIdleCollector:
    """``pg_process_idle_seconds``: a histogram of idle time per state and application."""

    BOUNDS = (1, 2, 5, 15, 30, 60, 90, 120, 300)
    QUERY = """
WITH
  metrics AS (
    SELECT state, application_name,
           SUM(EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - state_change))::bigint)::float AS process_idle_seconds_sum,
           COUNT(*) AS process_idle_seconds_count
    FROM pg_stat_activity
    WHERE state ~ '^idle' AND pid <> pg_backend_pid()
    GROUP BY state, application_name
  ),
  buckets AS (
    SELECT state, application_name, le,
           SUM(CASE WHEN EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - state_change)) <= le THEN 1 ELSE 0 END)::bigint
             AS bucket
    FROM pg_stat_activity, UNNEST(%s::int[]) AS le
    WHERE pid <> pg_backend_pid()
    GROUP BY state, application_name, le
    ORDER BY state, application_name, le
  )
SELECT state, application_name, process_idle_seconds_sum AS seconds_sum,
       process_idle_seconds_count AS seconds_count,
       ARRAY_AGG(le) AS seconds, ARRAY_AGG(bucket) AS seconds_bucket
FROM metrics JOIN buckets USING (state, application_name)
GROUP BY 1, 2, 3, 4
"""

    def __init__(self, context: PgContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        result = self.context.current().query(self.QUERY, [list(self.BOUNDS)])
        fam = HistogramFamily("pg_process_idle_seconds", "Idle time of server processes",
                              labels=["state", "application_name"])
        for state, app, total, count, bounds, buckets in result.rows:
            pairs = list(zip(to_float_list(bounds), to_float_list(buckets), strict=False))
            fam.add_metric([state if state is not None else "unknown", app if app is not None else "unknown"],
                           to_float(count or 0), to_float(total) if total is not None else 0.0, pairs)
        return [fam]


def _c(column: str, name: str, help_text: str, null: float | None = 0.0) -> Column:
    return Column(column, name, "counter", help_text, null)


def _g(column: str, name: str, help_text: str, null: float | None = 0.0) -> Column:
    return Column(column, name, "gauge", help_text, null)


ALL = ">=0.0.0"

DATABASE = Table(
    queries=((ALL, "SELECT datname, pg_database_size(datname) AS size FROM pg_database "
                   "WHERE datname IS NOT NULL AND NOT (datname = ANY(%s::text[]))"),),
    labels=("datname",),
    columns=(_g("size", "pg_database_size_bytes", "Disk space used by the database"),),
    takes_excluded=True,
)

# the exporter's own backend is not counted (as newer upstream does)
LOCKS = Table(
    queries=((ALL, """
SELECT pg_database.datname AS datname, tmp.mode AS mode, COALESCE(count, 0) AS count
FROM (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'),
             ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'),
             ('sireadlock')) AS tmp(mode)
  CROSS JOIN pg_database
  LEFT JOIN (
    SELECT database, lower(mode) AS mode, count(*) AS count
    FROM pg_locks
    WHERE database IS NOT NULL AND pid IS DISTINCT FROM pg_backend_pid()
    GROUP BY database, lower(mode)
  ) AS tmp2 ON tmp.mode = tmp2.mode AND pg_database.oid = tmp2.database
ORDER BY 1
"""),),
    labels=("datname", "mode"),
    columns=(_g("count", "pg_locks_count", "Number of locks"),),
    required=("datname", "mode"),
)

REPLICATION = Table(
    queries=(
        (">=10.0.0", """
SELECT
  CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE GREATEST(0, EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())))
  END AS lag,
  CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica
"""),
    ),
    columns=(
        _g("lag", "pg_replication_lag_seconds", "Replication lag behind master in seconds"),
        _g("is_replica", "pg_replication_is_replica", "Indicates if the server is a replica"),
    ),
)

REPLICATION_SLOT = Table(
    queries=((">=10.0.0", """
SELECT slot_name,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() - '0/0'
       ELSE pg_current_wal_lsn() - '0/0' END AS current_wal_lsn,
  COALESCE(confirmed_flush_lsn, '0/0') - '0/0' AS confirmed_flush_lsn,
  COALESCE(active, false) AS active
FROM pg_replication_slots
"""),),
    labels=("slot_name",),
    columns=(
        _g("current_wal_lsn", "pg_replication_slot_slot_current_wal_lsn", "current wal lsn value"),
        _g("confirmed_flush_lsn", "pg_replication_slot_slot_confirmed_flush_lsn",
           "last lsn confirmed flushed to the replication slot"),
        _g("active", "pg_replication_slot_slot_is_active", "whether the replication slot is active or not"),
    ),
    only_when={"active": ("pg_replication_slot_slot_confirmed_flush_lsn",)},
)

_BGWRITER_COLUMNS = (
    _c("checkpoints_timed", "pg_stat_bgwriter_checkpoints_timed_total",
       "Number of scheduled checkpoints that have been performed"),
    _c("checkpoints_req", "pg_stat_bgwriter_checkpoints_req_total",
       "Number of requested checkpoints that have been performed"),
    _c("checkpoint_write_time", "pg_stat_bgwriter_checkpoint_write_time_total",
       "Total amount of time that has been spent in the portion of checkpoint processing where files are "
       "written to disk, in milliseconds"),
    _c("checkpoint_sync_time", "pg_stat_bgwriter_checkpoint_sync_time_total",
       "Total amount of time that has been spent in the portion of checkpoint processing where files are "
       "synchronized to disk, in milliseconds"),
    _c("buffers_checkpoint", "pg_stat_bgwriter_buffers_checkpoint_total",
       "Number of buffers written during checkpoints"),
    _c("buffers_clean", "pg_stat_bgwriter_buffers_clean_total", "Number of buffers written by the background writer"),
    _c("maxwritten_clean", "pg_stat_bgwriter_maxwritten_clean_total",
       "Number of times the background writer stopped a cleaning scan because it had written too many buffers"),
    # gone in PostgreSQL 17 (moved to pg_stat_io): NULL there, and then not exported
    _c("buffers_backend", "pg_stat_bgwriter_buffers_backend_total", "Number of buffers written directly by a backend",
       null=None),
    _c("buffers_backend_fsync", "pg_stat_bgwriter_buffers_backend_fsync_total",
       "Number of times a backend had to execute its own fsync call (normally the background writer handles those "
       "even when the backend does its own write)", null=None),
    _c("buffers_alloc", "pg_stat_bgwriter_buffers_alloc_total", "Number of buffers allocated"),
    _c("stats_reset", "pg_stat_bgwriter_stats_reset_total", "Time at which these statistics were last reset"),
)

STAT_BGWRITER = Table(
    queries=(
        (">=17.0.0", """
SELECT c.num_timed AS checkpoints_timed, c.num_requested AS checkpoints_req,
       c.write_time AS checkpoint_write_time, c.sync_time AS checkpoint_sync_time,
       c.buffers_written AS buffers_checkpoint, b.buffers_clean, b.maxwritten_clean,
       NULL::bigint AS buffers_backend, NULL::bigint AS buffers_backend_fsync, b.buffers_alloc,
       b.stats_reset
FROM pg_stat_bgwriter b CROSS JOIN pg_stat_checkpointer c
"""),
        ("<17.0.0", """
SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time, buffers_checkpoint,
       buffers_clean, maxwritten_clean, buffers_backend, buffers_backend_fsync, buffers_alloc, stats_reset
FROM pg_stat_bgwriter
"""),
    ),
    columns=_BGWRITER_COLUMNS,
)

_DB_LABELS = ("datid", "datname")
STAT_DATABASE = Table(
    queries=((ALL, """
SELECT datid, datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched,
       tup_inserted, tup_updated, tup_deleted, conflicts, temp_files, temp_bytes, deadlocks, blk_read_time,
       blk_write_time, stats_reset
FROM pg_stat_database
"""),),
    labels=_DB_LABELS,
    columns=(
        _g("numbackends", "pg_stat_database_numbackends",
           "Number of backends currently connected to this database. This is the only column in this view that "
           "returns a value reflecting current state; all other columns return the accumulated values since the "
           "last reset."),
        _c("xact_commit", "pg_stat_database_xact_commit",
           "Number of transactions in this database that have been committed"),
        _c("xact_rollback", "pg_stat_database_xact_rollback",
           "Number of transactions in this database that have been rolled back"),
        _c("blks_read", "pg_stat_database_blks_read", "Number of disk blocks read in this database"),
        _c("blks_hit", "pg_stat_database_blks_hit",
           "Number of times disk blocks were found already in the buffer cache, so that a read was not necessary "
           "(this only includes hits in the PostgreSQL buffer cache, not the operating system's file system cache)"),
        _c("tup_returned", "pg_stat_database_tup_returned", "Number of rows returned by queries in this database"),
        _c("tup_fetched", "pg_stat_database_tup_fetched", "Number of rows fetched by queries in this database"),
        _c("tup_inserted", "pg_stat_database_tup_inserted", "Number of rows inserted by queries in this database"),
        _c("tup_updated", "pg_stat_database_tup_updated", "Number of rows updated by queries in this database"),
        _c("tup_deleted", "pg_stat_database_tup_deleted", "Number of rows deleted by queries in this database"),
        _c("conflicts", "pg_stat_database_conflicts",
           "Number of queries canceled due to conflicts with recovery in this database. (Conflicts occur only on "
           "standby servers; see pg_stat_database_conflicts for details.)"),
        _c("temp_files", "pg_stat_database_temp_files",
           "Number of temporary files created by queries in this database. All temporary files are counted, "
           "regardless of why the temporary file was created (e.g., sorting or hashing), and regardless of the "
           "log_temp_files setting."),
        _c("temp_bytes", "pg_stat_database_temp_bytes",
           "Total amount of data written to temporary files by queries in this database. All temporary files are "
           "counted, regardless of why the temporary file was created, and regardless of the log_temp_files "
           "setting."),
        _c("deadlocks", "pg_stat_database_deadlocks", "Number of deadlocks detected in this database"),
        _c("blk_read_time", "pg_stat_database_blk_read_time",
           "Time spent reading data file blocks by backends in this database, in milliseconds"),
        _c("blk_write_time", "pg_stat_database_blk_write_time",
           "Time spent writing data file blocks by backends in this database, in milliseconds"),
        _c("stats_reset", "pg_stat_database_stats_reset", "Time at which these statistics were last reset"),
    ),
    required=("datid", "datname", "numbackends", "xact_commit", "xact_rollback", "blks_read", "blks_hit",
              "tup_returned", "tup_fetched", "tup_inserted", "tup_updated", "tup_deleted", "conflicts",
              "temp_files", "temp_bytes", "deadlocks", "blk_read_time", "blk_write_time"),
)

_TABLE_LABELS = ("datname", "schemaname", "relname")
_EPOCH0 = "'1970-01-01Z'"
STAT_USER_TABLES = Table(
    queries=((ALL, f"""
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
"""),),
    labels=_TABLE_LABELS,
    columns=(
        _c("seq_scan", "pg_stat_user_tables_seq_scan", "Number of sequential scans initiated on this table"),
        _c("seq_tup_read", "pg_stat_user_tables_seq_tup_read", "Number of live rows fetched by sequential scans"),
        _c("idx_scan", "pg_stat_user_tables_idx_scan", "Number of index scans initiated on this table"),
        _c("idx_tup_fetch", "pg_stat_user_tables_idx_tup_fetch", "Number of live rows fetched by index scans"),
        _c("n_tup_ins", "pg_stat_user_tables_n_tup_ins", "Number of rows inserted"),
        _c("n_tup_upd", "pg_stat_user_tables_n_tup_upd", "Number of rows updated"),
        _c("n_tup_del", "pg_stat_user_tables_n_tup_del", "Number of rows deleted"),
        _c("n_tup_hot_upd", "pg_stat_user_tables_n_tup_hot_upd",
           "Number of rows HOT updated (i.e., with no separate index update required)"),
        _g("n_live_tup", "pg_stat_user_tables_n_live_tup", "Estimated number of live rows"),
        _g("n_dead_tup", "pg_stat_user_tables_n_dead_tup", "Estimated number of dead rows"),
        _g("n_mod_since_analyze", "pg_stat_user_tables_n_mod_since_analyze",
           "Estimated number of rows changed since last analyze"),
        _g("last_vacuum", "pg_stat_user_tables_last_vacuum",
           "Last time at which this table was manually vacuumed (not counting VACUUM FULL)"),
        _g("last_autovacuum", "pg_stat_user_tables_last_autovacuum",
           "Last time at which this table was vacuumed by the autovacuum daemon"),
        _g("last_analyze", "pg_stat_user_tables_last_analyze", "Last time at which this table was manually analyzed"),
        _g("last_autoanalyze", "pg_stat_user_tables_last_autoanalyze",
           "Last time at which this table was analyzed by the autovacuum daemon"),
        _c("vacuum_count", "pg_stat_user_tables_vacuum_count",
           "Number of times this table has been manually vacuumed (not counting VACUUM FULL)"),
        _c("autovacuum_count", "pg_stat_user_tables_autovacuum_count",
           "Number of times this table has been vacuumed by the autovacuum daemon"),
        _c("analyze_count", "pg_stat_user_tables_analyze_count",
           "Number of times this table has been manually analyzed"),
        _c("autoanalyze_count", "pg_stat_user_tables_autoanalyze_count",
           "Number of times this table has been analyzed by the autovacuum daemon"),
        # NULL while an ACCESS EXCLUSIVE lock is held or queued: the size function would wait behind it
        _g("total_size", "pg_stat_user_tables_size_bytes",
           "Total disk space used by this table, in bytes, including all indexes and TOAST data", null=None),
    ),
)

STATIO_USER_TABLES = Table(
    queries=((ALL, """
SELECT current_database() AS datname, schemaname, relname, heap_blks_read, heap_blks_hit, idx_blks_read,
       idx_blks_hit, toast_blks_read, toast_blks_hit, tidx_blks_read, tidx_blks_hit
FROM pg_statio_user_tables
"""),),
    labels=_TABLE_LABELS,
    columns=(
        _c("heap_blks_read", "pg_statio_user_tables_heap_blocks_read", "Number of disk blocks read from this table"),
        _c("heap_blks_hit", "pg_statio_user_tables_heap_blocks_hit", "Number of buffer hits in this table"),
        _c("idx_blks_read", "pg_statio_user_tables_idx_blocks_read",
           "Number of disk blocks read from all indexes on this table"),
        _c("idx_blks_hit", "pg_statio_user_tables_idx_blocks_hit",
           "Number of buffer hits in all indexes on this table"),
        _c("toast_blks_read", "pg_statio_user_tables_toast_blocks_read",
           "Number of disk blocks read from this table's TOAST table (if any)"),
        _c("toast_blks_hit", "pg_statio_user_tables_toast_blocks_hit",
           "Number of buffer hits in this table's TOAST table (if any)"),
        _c("tidx_blks_read", "pg_statio_user_tables_tidx_blocks_read",
           "Number of disk blocks read from this table's TOAST table indexes (if any)"),
        _c("tidx_blks_hit", "pg_statio_user_tables_tidx_blocks_hit",
           "Number of buffer hits in this table's TOAST table indexes (if any)"),
    ),
)

WAL = Table(
    queries=((">=10.0.0", "SELECT COUNT(*) AS segments, COALESCE(SUM(size), 0) AS size FROM pg_ls_waldir() "
                          "WHERE name ~ '^[0-9A-F]{24}$'"),),
    columns=(
        _g("segments", "pg_wal_segments", "Number of WAL segments"),
        _g("size", "pg_wal_size_bytes", "Total size of WAL segments"),
    ),
)

DATABASE_WRAPAROUND = Table(
    queries=((ALL, "SELECT datname, age(d.datfrozenxid) AS age_datfrozenxid, mxid_age(d.datminmxid) AS age_datminmxid "
                   "FROM pg_catalog.pg_database d WHERE d.datallowconn"),),
    labels=("datname",),
    columns=(
        _g("age_datfrozenxid", "pg_database_wraparound_age_datfrozenxid_seconds",
           "Age of the oldest transaction ID that has not been frozen."),
        _g("age_datminmxid", "pg_database_wraparound_age_datminmxid_seconds",
           "Age of the oldest multi-transaction ID that has been replaced with a transaction ID."),
    ),
    required=("datname", "age_datfrozenxid", "age_datminmxid"),
)

# upstream reports clock_timestamp() itself as the "age"; the age of the oldest
# transaction is what the help text promises, so that is what is exported
LONG_RUNNING_TRANSACTIONS = Table(
    queries=((ALL, """
SELECT COUNT(*) AS transactions,
       COALESCE(MAX(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)), 0) AS oldest_timestamp_seconds
FROM pg_catalog.pg_stat_activity
WHERE state IS DISTINCT FROM 'idle' AND query NOT LIKE 'autovacuum:%%' AND pid <> pg_backend_pid()
  AND xact_start IS NOT NULL
"""),),
    columns=(
        _g("transactions", "pg_long_running_transactions", "Current number of long running transactions"),
        _g("oldest_timestamp_seconds", "pg_long_running_transactions_oldest_timestamp_seconds",
           "The current maximum transaction age in seconds"),
    ),
    takes_excluded=False,
)

POSTMASTER = Table(
    queries=((ALL, "SELECT extract(epoch from pg_postmaster_start_time()) AS start_time"),),
    columns=(_g("start_time", "pg_postmaster_start_time_seconds", "Time at which postmaster started"),),
)

STAT_ACTIVITY_AUTOVACUUM = Table(
    queries=((ALL, "SELECT SPLIT_PART(query, '.', 2) AS relname, EXTRACT(EPOCH FROM xact_start) AS timestamp_seconds "
                   "FROM pg_catalog.pg_stat_activity WHERE query LIKE 'autovacuum:%%'"),),
    labels=("relname",),
    columns=(_g("timestamp_seconds", "pg_stat_activity_autovacuum_timestamp_seconds",
                "Start timestamp of the vacuum process in seconds", null=None),),
)

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
STAT_STATEMENTS = Table(
    queries=(
        (">=17.0.0", _STATEMENTS.format(total="total_exec_time", read="shared_blk_read_time",
                                        write="shared_blk_write_time")),
        (">=13.0.0 <17.0.0", _STATEMENTS.format(total="total_exec_time", read="blk_read_time",
                                                write="blk_write_time")),
        ("<13.0.0", _STATEMENTS.format(total="total_time", read="blk_read_time", write="blk_write_time")),
    ),
    labels=("user", "datname", "queryid"),
    columns=(
        _c("calls_total", "pg_stat_statements_calls_total", "Number of times executed"),
        _c("seconds_total", "pg_stat_statements_seconds_total", "Total time spent in the statement, in seconds"),
        _c("rows_total", "pg_stat_statements_rows_total",
           "Total number of rows retrieved or affected by the statement"),
        _c("block_read_seconds_total", "pg_stat_statements_block_read_seconds_total",
           "Total time the statement spent reading blocks, in seconds"),
        _c("block_write_seconds_total", "pg_stat_statements_block_write_seconds_total",
           "Total time the statement spent writing blocks, in seconds"),
    ),
    needs_relation="pg_stat_statements",
)

_WAL_RECEIVER = """
SELECT trim(both '''' from substring(conninfo from 'host=([^ ]*)')) AS upstream_host,
       slot_name, status,
       (receive_start_lsn - '0/0') %% (2^52)::bigint AS receive_start_lsn,
       {flushed}
       receive_start_tli, received_tli,
       extract(epoch from last_msg_send_time) AS last_msg_send_time,
       extract(epoch from last_msg_receipt_time) AS last_msg_receipt_time,
       (latest_end_lsn - '0/0') %% (2^52)::bigint AS latest_end_lsn,
       extract(epoch from latest_end_time) AS latest_end_time,
       substring(slot_name from 'repmgr_slot_([0-9]*)') AS upstream_node
FROM pg_catalog.pg_stat_wal_receiver
"""
_WR_HELP_SEND = "Send time of last message received from origin WAL sender"
STAT_WAL_RECEIVER = Table(
    queries=(
        # flushed_lsn appeared in PostgreSQL 13 (received_lsn before)
        (">=13.0.0", _WAL_RECEIVER.format(flushed="(flushed_lsn - '0/0') %% (2^52)::bigint AS flushed_lsn,")),
        ("<13.0.0", _WAL_RECEIVER.format(flushed="NULL::bigint AS flushed_lsn,")),
    ),
    labels=("upstream_host", "slot_name", "status"),
    columns=(
        _c("receive_start_lsn", "pg_stat_wal_receiver_receive_start_lsn",
           "First write-ahead log location used when WAL receiver is started represented as a decimal", None),
        _g("receive_start_tli", "pg_stat_wal_receiver_receive_start_tli",
           "First timeline number used when WAL receiver is started", None),
        _c("flushed_lsn", "pg_stat_wal_receiver_flushed_lsn",
           "Last write-ahead log location already received and flushed to disk, the initial value of this field "
           "being the first log location used when WAL receiver is started represented as a decimal", None),
        _g("received_tli", "pg_stat_wal_receiver_received_tli",
           "Timeline number of last write-ahead log location received and flushed to disk", None),
        _c("last_msg_send_time", "pg_stat_wal_receiver_last_msg_send_time", _WR_HELP_SEND, None),
        _c("last_msg_receipt_time", "pg_stat_wal_receiver_last_msg_receipt_time", _WR_HELP_SEND, None),
        _c("latest_end_lsn", "pg_stat_wal_receiver_latest_end_lsn",
           "Last write-ahead log location reported to origin WAL sender as integer", None),
        _c("latest_end_time", "pg_stat_wal_receiver_latest_end_time",
           "Time of last write-ahead log location reported to origin WAL sender", None),
        _g("upstream_node", "pg_stat_wal_receiver_upstream_node", "Node ID of the upstream node", None),
    ),
)

STATIO_USER_INDEXES = Table(
    queries=((ALL, "SELECT schemaname, relname, indexrelname, idx_blks_read, idx_blks_hit "
                   "FROM pg_statio_user_indexes"),),
    labels=("schemaname", "relname", "indexrelname"),
    columns=(
        _c("idx_blks_read", "pg_statio_user_indexes_idx_blks_read_total", "Number of disk blocks read from this index"),
        _c("idx_blks_hit", "pg_statio_user_indexes_idx_blks_hit_total", "Number of buffer hits in this index"),
    ),
)

# upstream only knows the pre-10 function names; 10 renamed xlog -> wal, location -> lsn
XLOG_LOCATION = Table(
    queries=(
        (">=10.0.0", """
SELECT CASE WHEN pg_is_in_recovery() THEN (pg_last_wal_replay_lsn() - '0/0') %% (2^52)::bigint
            ELSE (pg_current_wal_lsn() - '0/0') %% (2^52)::bigint END AS bytes
"""),
        ("<10.0.0", """
SELECT CASE WHEN pg_is_in_recovery() THEN (pg_last_xlog_replay_location() - '0/0') %% (2^52)::bigint
            ELSE (pg_current_xlog_location() - '0/0') %% (2^52)::bigint END AS bytes
"""),
    ),
    columns=(_g("bytes", "pg_xlog_location_bytes",
                "Postgres LSN (log sequence number) being generated on primary or replayed on replica "
                "(truncated to low 52 bits)"),),
)


def _table(table: Table) -> Callable[[PgContext], TableCollector]:
    def factory(context: PgContext) -> TableCollector:
        return TableCollector(table, context)
    return factory


SPECS: tuple[CollectorSpec[PgContext], ...] = (
    CollectorSpec("database", _table(DATABASE), True),
    CollectorSpec("database_wraparound", _table(DATABASE_WRAPAROUND), False),
    CollectorSpec("locks", _table(LOCKS), True),
    CollectorSpec("long_running_transactions", _table(LONG_RUNNING_TRANSACTIONS), False),
    CollectorSpec("postmaster", _table(POSTMASTER), False),
    CollectorSpec("process_idle", ProcessIdleCollector, False),
    CollectorSpec("replication", _table(REPLICATION), True),
    CollectorSpec("replication_slot", _table(REPLICATION_SLOT), True),
    CollectorSpec("stat_activity_autovacuum", _table(STAT_ACTIVITY_AUTOVACUUM), False),
    CollectorSpec("stat_bgwriter", _table(STAT_BGWRITER), True),
    CollectorSpec("stat_database", _table(STAT_DATABASE), True),
    CollectorSpec("stat_statements", _table(STAT_STATEMENTS), False),
    CollectorSpec("stat_user_tables", _table(STAT_USER_TABLES), True),
    CollectorSpec("stat_wal_receiver", _table(STAT_WAL_RECEIVER), False),
    CollectorSpec("statio_user_indexes", _table(STATIO_USER_INDEXES), False),
    CollectorSpec("statio_user_tables", _table(STATIO_USER_TABLES), True),
    CollectorSpec("wal", _table(WAL), True),
    CollectorSpec("xlog_location", _table(XLOG_LOCATION), False),
)

TABLES: dict[str, Table] = {
    "database": DATABASE, "database_wraparound": DATABASE_WRAPAROUND, "locks": LOCKS,
    "long_running_transactions": LONG_RUNNING_TRANSACTIONS, "postmaster": POSTMASTER,
    "replication": REPLICATION, "replication_slot": REPLICATION_SLOT,
    "stat_activity_autovacuum": STAT_ACTIVITY_AUTOVACUUM, "stat_bgwriter": STAT_BGWRITER,
    "stat_database": STAT_DATABASE, "stat_statements": STAT_STATEMENTS, "stat_user_tables": STAT_USER_TABLES,
    "stat_wal_receiver": STAT_WAL_RECEIVER, "statio_user_indexes": STATIO_USER_INDEXES,
    "statio_user_tables": STATIO_USER_TABLES, "wal": WAL, "xlog_location": XLOG_LOCATION,
}


def collector_families(name: str) -> set[str]:
    """The series names collector ``name`` can export."""
    if name == "process_idle":
        return {"pg_process_idle_seconds" + s for s in ("_bucket", "_sum", "_count")}
    return {col.name for col in TABLES[name].columns}


def builtin_families(enabled: Iterable[str]) -> dict[str, str]:
    """Series name -> who exports it, for the enabled collectors (queries files may not reuse them)."""
    owners = {name: "the exporter's collector runner" for name in
              ("pg_scrape_collector_duration_seconds", "pg_scrape_collector_success")}
    for collector in enabled:
        for series in collector_families(collector):
            owners[series] = f"the {collector} collector (--no-collector.{collector} turns it off)"
    return owners
