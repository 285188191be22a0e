# ruff: noqa: E501 - upstream's help texts, kept verbatim
"""postgres_exporter's default metrics: the built-in namespaces, ``pg_static`` and ``pg_up``.

These are upstream's ``builtinMetricMaps`` with their version-specific queries: each
namespace maps result columns to labels and metrics exactly as the queries file does,
and carries the ``server`` label. Version differences live in ``QUERIES``: the first
range that matches the server's version picks the query; no match disables the
namespace on that server; no entry means ``SELECT * FROM <namespace>``.
"""

from __future__ import annotations

from dataclasses import replace

from exporters.postgres.engine import ColumnMap, MetricMap
from exporters.postgres.queries import Namespace
from exporters.postgres.versions import Version, VersionRange, parse_range

# namespace -> ((column, usage, description[, version range]), ...)
COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pg_stat_database_conflicts": (
        ("datid", "LABEL", "OID of a database"),
        ("datname", "LABEL", "Name of this database"),
        ("confl_tablespace", "COUNTER", "Number of queries in this database that have been canceled due to dropped tablespaces"),
        ("confl_lock", "COUNTER", "Number of queries in this database that have been canceled due to lock timeouts"),
        ("confl_snapshot", "COUNTER", "Number of queries in this database that have been canceled due to old snapshots"),
        ("confl_bufferpin", "COUNTER", "Number of queries in this database that have been canceled due to pinned buffers"),
        ("confl_deadlock", "COUNTER", "Number of queries in this database that have been canceled due to deadlocks"),
    ),
    "pg_stat_replication": (
        ("procpid", "DISCARD", "Process ID of a WAL sender process", "<9.2.0"),
        ("pid", "DISCARD", "Process ID of a WAL sender process", ">=9.2.0"),
        ("usesysid", "DISCARD", "OID of the user logged into this WAL sender process"),
        ("usename", "DISCARD", "Name of the user logged into this WAL sender process"),
        ("application_name", "LABEL", "Name of the application that is connected to this WAL sender"),
        ("client_addr", "LABEL", "IP address of the client connected to this WAL sender. If this field is null, it indicates that the client is connected via a Unix socket on the server machine."),
        ("client_hostname", "DISCARD", "Host name of the connected client, as reported by a reverse DNS lookup of client_addr. This field will only be non-null for IP connections, and only when log_hostname is enabled."),
        ("client_port", "DISCARD", "TCP port number that the client is using for communication with this WAL sender, or -1 if a Unix socket is used"),
        ("backend_start", "DISCARD", "with time zone\tTime when this process was started, i.e., when the client connected to this WAL sender"),
        ("backend_xmin", "DISCARD", "The current backend's xmin horizon."),
        ("state", "LABEL", "Current WAL sender state"),
        ("sent_location", "DISCARD", "Last transaction log position sent on this connection", "<10.0.0"),
        ("write_location", "DISCARD", "Last transaction log position written to disk by this standby server", "<10.0.0"),
        ("flush_location", "DISCARD", "Last transaction log position flushed to disk by this standby server", "<10.0.0"),
        ("replay_location", "DISCARD", "Last transaction log position replayed into the database on this standby server", "<10.0.0"),
        ("sent_lsn", "DISCARD", "Last transaction log position sent on this connection", ">=10.0.0"),
        ("write_lsn", "DISCARD", "Last transaction log position written to disk by this standby server", ">=10.0.0"),
        ("flush_lsn", "DISCARD", "Last transaction log position flushed to disk by this standby server", ">=10.0.0"),
        ("replay_lsn", "DISCARD", "Last transaction log position replayed into the database on this standby server", ">=10.0.0"),
        ("sync_priority", "DISCARD", "Priority of this standby server for being chosen as the synchronous standby"),
        ("sync_state", "DISCARD", "Synchronous state of this standby server"),
        ("slot_name", "LABEL", "A unique, cluster-wide identifier for the replication slot", ">=9.2.0"),
        ("plugin", "DISCARD", "The base name of the shared object containing the output plugin this logical slot is using, or null for physical slots"),
        ("slot_type", "DISCARD", "The slot type - physical or logical"),
        ("datoid", "DISCARD", "The OID of the database this slot is associated with, or null. Only logical slots have an associated database"),
        ("database", "DISCARD", "The name of the database this slot is associated with, or null. Only logical slots have an associated database"),
        ("active", "DISCARD", "True if this slot is currently actively being used"),
        ("active_pid", "DISCARD", "Process ID of a WAL sender process"),
        ("xmin", "DISCARD", "The oldest transaction that this slot needs the database to retain. VACUUM cannot remove tuples deleted by any later transaction"),
        ("catalog_xmin", "DISCARD", "The oldest transaction affecting the system catalogs that this slot needs the database to retain. VACUUM cannot remove catalog tuples deleted by any later transaction"),
        ("restart_lsn", "DISCARD", "The address (LSN) of oldest WAL which still might be required by the consumer of this slot and thus won't be automatically removed during checkpoints"),
        ("pg_current_xlog_location", "DISCARD", "pg_current_xlog_location"),
        ("pg_current_wal_lsn", "DISCARD", "pg_current_xlog_location", ">=10.0.0"),
        ("pg_current_wal_lsn_bytes", "GAUGE", "WAL position in bytes", ">=10.0.0"),
        ("pg_xlog_location_diff", "GAUGE", "Lag in bytes between master and slave", ">=9.2.0 <10.0.0"),
        ("pg_wal_lsn_diff", "GAUGE", "Lag in bytes between master and slave", ">=10.0.0"),
        ("confirmed_flush_lsn", "DISCARD", "LSN position a consumer of a slot has confirmed flushing the data received"),
        ("write_lag", "DISCARD", "Time elapsed between flushing recent WAL locally and receiving notification that this standby server has written it (but not yet flushed it or applied it). This can be used to gauge the delay that synchronous_commit level remote_write incurred while committing if this server was configured as a synchronous standby.", ">=10.0.0"),
        ("flush_lag", "DISCARD", "Time elapsed between flushing recent WAL locally and receiving notification that this standby server has written and flushed it (but not yet applied it). This can be used to gauge the delay that synchronous_commit level remote_flush incurred while committing if this server was configured as a synchronous standby.", ">=10.0.0"),
        ("replay_lag", "DISCARD", "Time elapsed between flushing recent WAL locally and receiving notification that this standby server has written, flushed and applied it. This can be used to gauge the delay that synchronous_commit level remote_apply incurred while committing if this server was configured as a synchronous standby.", ">=10.0.0"),
    ),
    "pg_replication_slots": (
        ("slot_name", "LABEL", "Name of the replication slot"),
        ("database", "LABEL", "Name of the database"),
        ("active", "GAUGE", "Flag indicating if the slot is active"),
        ("pg_wal_lsn_diff", "GAUGE", "Replication lag in bytes"),
    ),
    "pg_stat_archiver": (
        ("archived_count", "COUNTER", "Number of WAL files that have been successfully archived"),
        ("last_archived_wal", "DISCARD", "Name of the last WAL file successfully archived"),
        ("last_archived_time", "DISCARD", "Time of the last successful archive operation"),
        ("failed_count", "COUNTER", "Number of failed attempts for archiving WAL files"),
        ("last_failed_wal", "DISCARD", "Name of the WAL file of the last failed archival operation"),
        ("last_failed_time", "DISCARD", "Time of the last failed archival operation"),
        ("stats_reset", "DISCARD", "Time at which these statistics were last reset"),
        ("last_archive_age", "GAUGE", "Time in seconds since last WAL segment was successfully archived"),
    ),
    "pg_stat_activity": (
        ("datname", "LABEL", "Name of this database"),
        ("state", "LABEL", "connection state", ">=9.2.0"),
        ("usename", "LABEL", "connection usename"),
        ("application_name", "LABEL", "connection application_name"),
        ("count", "GAUGE", "number of connections in this state"),
        ("max_tx_duration", "GAUGE", "max duration in seconds any active transaction has been running"),
    ),
}

# As upstream, the exporter's own session is counted (active, in its database).
_STAT_ACTIVITY = """
SELECT
    pg_database.datname,
    tmp.state,
    tmp2.usename,
    tmp2.application_name,
    COALESCE(count, 0) AS count,
    COALESCE(max_tx_duration, 0) AS max_tx_duration
FROM
    (VALUES ('active'), ('idle'), ('idle in transaction'), ('idle in transaction (aborted)'),
            ('fastpath function call'), ('disabled')) AS tmp(state)
    CROSS JOIN pg_database
    LEFT JOIN (
        SELECT datname, state, usename, application_name,
               count(*) AS count,
               MAX(EXTRACT(EPOCH FROM now() - xact_start))::float AS max_tx_duration
        FROM pg_stat_activity
        GROUP BY datname, state, usename, application_name
    ) AS tmp2 ON tmp.state = tmp2.state AND pg_database.datname = tmp2.datname
"""

QUERIES: dict[str, tuple[tuple[str, str], ...]] = {
    "pg_stat_replication": (
        (">=10.0.0", """
SELECT *,
    (CASE pg_is_in_recovery() WHEN 't' THEN NULL ELSE pg_current_wal_lsn() END) AS pg_current_wal_lsn,
    (CASE pg_is_in_recovery() WHEN 't' THEN NULL
        ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), pg_lsn('0/0'))::float END) AS pg_current_wal_lsn_bytes,
    (CASE pg_is_in_recovery() WHEN 't' THEN NULL
        ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float END) AS pg_wal_lsn_diff
FROM pg_stat_replication
"""),
        (">=9.2.0 <10.0.0", """
SELECT *,
    (CASE pg_is_in_recovery() WHEN 't' THEN NULL ELSE pg_current_xlog_location() END) AS pg_current_xlog_location,
    (CASE pg_is_in_recovery() WHEN 't' THEN NULL
        ELSE pg_xlog_location_diff(pg_current_xlog_location(), replay_location)::float END) AS pg_xlog_location_diff
FROM pg_stat_replication
"""),
    ),
    "pg_replication_slots": (
        (">=10.0.0", """
SELECT slot_name, database, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)
FROM pg_replication_slots
"""),
        (">=9.4.0 <10.0.0", """
SELECT slot_name, database, active, pg_xlog_location_diff(pg_current_xlog_location(), restart_lsn)
FROM pg_replication_slots
"""),
    ),
    "pg_stat_archiver": (
        (">=9.4.0", "SELECT *, extract(epoch from now() - last_archived_time) AS last_archive_age "
                    "FROM pg_stat_archiver"),
    ),
    "pg_stat_activity": (
        (">=9.2.0", _STAT_ACTIVITY),
    ),
}

_PARSED_QUERIES: dict[str, tuple[tuple[VersionRange, str], ...]] = {
    name: tuple((parse_range(r), q.strip()) for r, q in rows) for name, rows in QUERIES.items()
}


def _namespace(name: str, rows: tuple[tuple[str, ...], ...]) -> Namespace:
    columns = {}
    for row in rows:
        column, usage, description = row[0], row[1], row[2]
        versions = parse_range(row[3]) if len(row) > 3 else None
        columns[column] = ColumnMap(column, usage, description, None, versions)
    return Namespace(name, f"SELECT * FROM {name}", MetricMap(name, columns), master=True, source="built-in")


NAMESPACES: tuple[Namespace, ...] = tuple(_namespace(n, rows) for n, rows in COLUMNS.items())


def for_version(ns: Namespace, version: Version) -> Namespace | None:
    """The namespace with the query for this server version, or None when none applies."""
    choices = _PARSED_QUERIES.get(ns.name)
    if choices is None:
        return ns
    for versions, query in choices:
        if versions(version):
            return replace(ns, query=query)
    return None


OWN_FAMILIES = (
    "pg_up", "pg_static", "pg_exporter_last_scrape_duration_seconds", "pg_exporter_scrapes_total",
    "pg_exporter_last_scrape_error", "pg_exporter_user_queries_load_error", "pg_scrape_collector_success",
    "pg_scrape_collector_duration_seconds",
)


def reserved_families() -> dict[str, str]:
    """Series name -> who exports it: the exporter's own families (a queries file may not)."""
    return {name: "the exporter itself" for name in OWN_FAMILIES}


def namespace_families() -> dict[str, str]:
    """Series name -> built-in namespace, for the families a queries file may repeat."""
    return {series: f"the built-in namespace {ns.name}" for ns in NAMESPACES for series in ns.series_names()}
