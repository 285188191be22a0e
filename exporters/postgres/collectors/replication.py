"""replication: upstream's collector/pg_replication.go.

Families: ``pg_replication_is_replica``, ``pg_replication_lag_seconds``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import TableCollector, gauge, spec, table


class ReplicationCollector(TableCollector):
    name = "replication"
    queries = (
        (">=10.0.0", """
SELECT
  CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE GREATEST(0, EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())))
  END AS lag,
  CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica
"""),
    )
    metrics = table(
        columns=(
            gauge("lag", "pg_replication_lag_seconds", "Replication lag behind master in seconds"),
            gauge("is_replica", "pg_replication_is_replica", "Indicates if the server is a replica"),
        ),
    )


SPEC = spec(ReplicationCollector, enabled_by_default=True)
