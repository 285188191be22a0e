"""locks: upstream's collector/pg_locks.go.

Families: ``pg_locks_count``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import ALL, TableCollector, gauge, spec, table


class LocksCollector(TableCollector):
    name = "locks"
    queries = ((ALL, """
SELECT pg_database.datname AS datname, tmp.mode AS mode, COALESCE(count, 0) AS count
FROM (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'),
             ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'),
             ('sireadlock')) AS tmp(mode)
  CROSS JOIN pg_database
  LEFT JOIN (
    SELECT database, lower(mode) AS mode, count(*) AS count
    FROM pg_locks
    WHERE database IS NOT NULL
    GROUP BY database, lower(mode)
  ) AS tmp2 ON tmp.mode = tmp2.mode AND pg_database.oid = tmp2.database
ORDER BY 1
"""),)
    metrics = table(
        labels=("datname", "mode"),
        columns=(gauge("count", "pg_locks_count", "Number of locks"),),
        required=("datname", "mode"),
    )


SPEC = spec(LocksCollector, enabled_by_default=True)
