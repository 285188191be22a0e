"""The collectors of postgres_exporter's ``collector/`` package: one module each.

Each module holds its collector's query (per server version), its ``MetricMap`` and a
``SPEC`` row; ``SPECS`` is the table that generates ``--[no-]collector.NAME``. A metric
name leads here in one hop: ``pg_locks_count`` is in ``locks.py``.
"""

from __future__ import annotations

from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.postgres.collectors import (
    database,
    database_wraparound,
    locks,
    long_running_transactions,
    postmaster,
    process_idle,
    replication,
    replication_slot,
    stat_activity_autovacuum,
    stat_bgwriter,
    stat_database,
    stat_statements,
    stat_user_tables,
    stat_wal_receiver,
    statio_user_indexes,
    statio_user_tables,
    wal,
    xlog_location,
)
from exporters.postgres.collectors._table import CollectorConfig, TableCollector

__all__ = ["CLASSES", "SPECS", "CollectorConfig", "TableCollector", "builtin_families"]

SPECS: tuple[CollectorSpec[CollectorConfig], ...] = tuple(module.SPEC for module in (
    database, database_wraparound, locks, long_running_transactions, postmaster, process_idle, replication,
    replication_slot, stat_activity_autovacuum, stat_bgwriter, stat_database, stat_statements, stat_user_tables,
    stat_wal_receiver, statio_user_indexes, statio_user_tables, wal, xlog_location,
))
CLASSES: dict[str, type[TableCollector]] = {
    spec.name: spec.factory for spec in SPECS  # type: ignore[misc]
}


def builtin_families(enabled: Iterable[str]) -> dict[str, str]:
    """Series name -> who exports it, for the enabled collectors."""
    owners = {name: "the exporter's collector runner" for name in
              ("pg_scrape_collector_duration_seconds", "pg_scrape_collector_success")}
    for name in enabled:
        for series in CLASSES[name].metrics.series_names():
            owners[series] = f"the {name} collector (--no-collector.{name} turns it off)"
    return owners
