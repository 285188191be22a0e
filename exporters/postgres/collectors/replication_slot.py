"""replication_slot: upstream's collector/pg_replication_slot.go.

Families: ``pg_replication_slot_slot_confirmed_flush_lsn``, ``pg_replication_slot_slot_current_wal_lsn``,
``pg_replication_slot_slot_is_active``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import TableCollector, gauge, spec, table


class ReplicationSlotCollector(TableCollector):
    name = "replication_slot"
    queries = ((">=10.0.0", """
SELECT slot_name,
  CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() - '0/0'
       ELSE pg_current_wal_lsn() - '0/0' END AS current_wal_lsn,
  COALESCE(confirmed_flush_lsn, '0/0') - '0/0' AS confirmed_flush_lsn,
  COALESCE(active, false) AS active
FROM pg_replication_slots
"""),)
    metrics = table(
        labels=("slot_name",),
        columns=(
            gauge("current_wal_lsn", "pg_replication_slot_slot_current_wal_lsn", "current wal lsn value"),
            gauge("confirmed_flush_lsn", "pg_replication_slot_slot_confirmed_flush_lsn",
                  "last lsn confirmed flushed to the replication slot"),
            gauge("active", "pg_replication_slot_slot_is_active", "whether the replication slot is active or not"),
        ),
        only_when={"active": ("pg_replication_slot_slot_confirmed_flush_lsn",)},
    )


SPEC = spec(ReplicationSlotCollector, enabled_by_default=True)
