"""postmaster: upstream's collector/pg_postmaster.go.

Families: ``pg_postmaster_start_time_seconds``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import ALL, TableCollector, gauge, spec, table


class PostmasterCollector(TableCollector):
    name = "postmaster"
    queries = ((ALL, "SELECT extract(epoch from pg_postmaster_start_time()) AS start_time"),)
    metrics = table(
        columns=(gauge("start_time", "pg_postmaster_start_time_seconds", "Time at which postmaster started"),),
    )


SPEC = spec(PostmasterCollector, enabled_by_default=False)
