"""postgres_exporter v0.15.0 (our target) against the reference binaries: every known difference.

The side-by-side test compares the families both exporters write against the same
database: same type and same label names, after applying this table. Each row belongs to
one reference (``bookworm``: Debian 12's v0.11.1, older than the target; ``trixie``: Debian
13's v0.17.1, newer), names the families it covers (a regular expression matched against
the whole family name), what changed and the upstream change behind it. Append a row when
a difference is understood; never widen a pattern to hide one that is not.

Kinds (as in the node and redis tables, relative to the reference):
  added    v0.15.0 writes these families, the reference does not.
  removed  the reference writes these families, v0.15.0 does not (for trixie: added after v0.15.0).
  labels   both write the family; ``dropped`` label names of the reference are not in
           v0.15.0, ``new`` ones are only in v0.15.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Difference:
    kind: Literal["added", "removed", "labels"]
    name: str
    what: str
    why: str
    dropped: frozenset[str] = frozenset()
    new: frozenset[str] = frozenset()
    reference: Literal["bookworm", "trixie"] = "bookworm"

    def matches(self, family: str) -> bool:
        return re.fullmatch(self.name, family) is not None


SERVER = frozenset({"server"})

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "labels", r"pg_database_size_bytes|pg_locks_count",
        "no server label",
        "v0.12.0 moved pg_database and pg_locks from the built-in namespace maps (which add server=host:port) "
        "to the collector package (collector/pg_database.go, collector/pg_locks.go), which adds no server label.",
        dropped=SERVER,
    ),
    Difference(
        "labels", r"pg_stat_bgwriter_.*_total",
        "no server label",
        "v0.15.0's collector/pg_stat_bgwriter.go builds its descriptors without the per-instance server label "
        "that v0.11.1's collector package attached.",
        dropped=SERVER,
    ),
    Difference(
        "labels",
        r"pg_stat_database_(numbackends|xact_commit|xact_rollback|blks_read|blks_hit|tup_returned|tup_fetched|"
        r"tup_inserted|tup_updated|tup_deleted|conflicts|temp_files|temp_bytes|deadlocks|blk_read_time|"
        r"blk_write_time|stats_reset)",
        "no server label",
        "pg_stat_database moved from the built-in namespace map (SELECT * FROM pg_stat_database, server label) "
        "to collector/pg_stat_database.go (fixed column list, labels datid and datname only).",
        dropped=SERVER,
    ),
    Difference(
        "removed",
        r"pg_stat_database_(active_time|checksum_failures|checksum_last_failure|idle_in_transaction_time|"
        r"session_time|sessions|sessions_abandoned|sessions_fatal|sessions_killed)",
        "untyped pg_stat_database columns of PostgreSQL 12/14 no longer exported",
        "v0.11.1 ran SELECT * and exported every unmapped numeric column as untyped; "
        "collector/pg_stat_database.go in v0.15.0 reads a fixed list of columns.",
    ),
    Difference(
        "labels", r"pg_stat_activity_(count|max_tx_duration)",
        "usename and application_name labels",
        "v0.15.0's pg_stat_activity query (cmd/postgres_exporter/queries.go) groups by usename and "
        "application_name as well as datname and state.",
        new=frozenset({"usename", "application_name"}),
    ),
    Difference(
        "added", r"pg_replication_(lag_seconds|is_replica)",
        "replication collector",
        "collector/pg_replication.go (default on) is new after v0.11.1.",
    ),
    Difference(
        "added", r"pg_wal_(segments|size_bytes)",
        "wal collector",
        "collector/pg_wal.go (default on) was added in v0.15.0.",
    ),
    Difference(
        "added", r"pg_stat_user_tables_.*|pg_statio_user_tables_.*",
        "stat_user_tables and statio_user_tables collectors",
        "v0.11.1 only had these in the example queries.yaml; v0.13.0 made them default-on collectors "
        "(collector/pg_stat_user_tables.go, collector/pg_statio_user_tables.go).",
    ),
    Difference(
        "added", r"postgres_exporter_config_last_reload_(successful|success_timestamp_seconds)",
        "config reload gauges",
        "config/config.go of v0.15.0 registers them (promauto) for the --config.file auth modules.",
    ),
    Difference(
        "labels", r"postgres_exporter_build_info",
        "tags label",
        "The version collector of the client_golang/common release v0.15.0 is built with adds a tags label.",
        new=frozenset({"tags"}),
    ),
    # -- v0.15.0 -> v0.17.1 (trixie) ----------------------------------------------------------
    Difference(
        "removed", r"pg_database_connection_limit|pg_roles_connection_limit",
        "connection limits of databases and roles",
        "v0.16.0: 'Add connection limits metrics for pg_roles and pg_database' (#997, 8f39f5b1) added "
        "pg_database_connection_limit and the default-on roles collector.",
        reference="trixie",
    ),
    Difference(
        "removed", r"pg_stat_database_active_time_seconds_total",
        "pg_stat_database active_time",
        "v0.16.0: 'pg_stat_database: added support for active_time counter' (#961, f5b613ab).",
        reference="trixie",
    ),
    Difference(
        "removed", r"pg_replication_last_replay_seconds",
        "age of the last replayed transaction",
        "v0.17.0: 'Export last replay age in replication collector' (#1085, c3885e84).",
        reference="trixie",
    ),
    Difference(
        "labels", r"pg_stat_activity_(count|max_tx_duration)",
        "backend_type, wait_event and wait_event_type labels",
        "v0.17.0: 'feat: add wait/backend to pg_stat_activity' (#1106, 2ee2a8fa) groups by them too.",
        dropped=frozenset({"backend_type", "wait_event", "wait_event_type"}),
        reference="trixie",
    ),
)


def explain(family: str, kind: str, reference: str = "bookworm") -> Difference | None:
    for row in DIFFERENCES:
        if row.kind == kind and row.reference == reference and row.matches(family):
            return row
    return None
