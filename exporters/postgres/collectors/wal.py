"""wal: upstream's collector/pg_wal.go.

Families: ``pg_wal_segments``, ``pg_wal_size_bytes``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import TableCollector, gauge, spec, table


class WalCollector(TableCollector):
    name = "wal"
    queries = ((">=10.0.0", "SELECT COUNT(*) AS segments, COALESCE(SUM(size), 0) AS size FROM pg_ls_waldir() "
                          "WHERE name ~ '^[0-9A-F]{24}$'"),)
    metrics = table(
        columns=(
            gauge("segments", "pg_wal_segments", "Number of WAL segments"),
            gauge("size", "pg_wal_size_bytes", "Total size of WAL segments"),
        ),
    )


SPEC = spec(WalCollector, enabled_by_default=True)
