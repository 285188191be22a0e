"""database_wraparound: upstream's collector/pg_database_wraparound.go.

Families: ``pg_database_wraparound_age_datfrozenxid_seconds``,
``pg_database_wraparound_age_datminmxid_seconds``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import ALL, TableCollector, gauge, spec, table


class DatabaseWraparoundCollector(TableCollector):
    name = "database_wraparound"
    queries = ((ALL, "SELECT datname, age(d.datfrozenxid) AS age_datfrozenxid, "
                    "mxid_age(d.datminmxid) AS age_datminmxid "
                    "FROM pg_catalog.pg_database d WHERE d.datallowconn"),)
    metrics = table(
        labels=("datname",),
        columns=(
            gauge("age_datfrozenxid", "pg_database_wraparound_age_datfrozenxid_seconds",
                  "Age of the oldest transaction ID that has not been frozen."),
            gauge("age_datminmxid", "pg_database_wraparound_age_datminmxid_seconds",
                  "Age of the oldest multi-transaction ID that has been replaced with a transaction ID."),
        ),
        required=("datname", "age_datfrozenxid", "age_datminmxid"),
    )


SPEC = spec(DatabaseWraparoundCollector, enabled_by_default=False)
