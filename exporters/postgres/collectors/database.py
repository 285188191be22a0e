"""database: upstream's collector/pg_database.go.

Families: ``pg_database_size_bytes``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import (
    ALL,
    TableCollector,
    gauge,
    spec,
    table,
    text_array,
)


class DatabaseCollector(TableCollector):
    name = "database"
    queries = ((ALL, "SELECT datname, pg_database_size(datname) AS size FROM pg_database "
                    "WHERE datname IS NOT NULL AND NOT (datname = ANY($1::text[]))"),)
    metrics = table(
        labels=("datname",),
        columns=(gauge("size", "pg_database_size_bytes", "Disk space used by the database"),),
    )

    def params(self) -> tuple[str | None, ...]:
        return (text_array(self.config.exclude_databases),)


SPEC = spec(DatabaseCollector, enabled_by_default=True)
