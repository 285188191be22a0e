"""process_idle: upstream's collector/pg_process_idle.go.

Families: ``pg_process_idle_seconds`` (a histogram of idle time per state and application).
Upstream reads only the first row (and fails when no process is idle); every row is read here.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import TableCollector, spec, table
from exporters.postgres.engine import ColumnMap


class ProcessIdleCollector(TableCollector):
    name = "process_idle"
    queries = ((">=0.0.0", """
WITH
  metrics AS (
    SELECT state, application_name,
           SUM(EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - state_change))::bigint)::float AS process_idle_seconds_sum,
           COUNT(*) AS process_idle_seconds_count
    FROM pg_stat_activity
    WHERE state ~ '^idle'
    GROUP BY state, application_name
  ),
  buckets AS (
    SELECT state, application_name, le,
           SUM(CASE WHEN EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - state_change)) <= le THEN 1 ELSE 0 END)::bigint
             AS bucket
    FROM pg_stat_activity, UNNEST(ARRAY[1, 2, 5, 15, 30, 60, 90, 120, 300]) AS le
    GROUP BY state, application_name, le
    ORDER BY state, application_name, le
  )
SELECT state, application_name, process_idle_seconds_sum AS seconds_sum,
       process_idle_seconds_count AS seconds_count,
       ARRAY_AGG(le) AS seconds, ARRAY_AGG(bucket) AS seconds_bucket
FROM metrics JOIN buckets USING (state, application_name)
GROUP BY 1, 2, 3, 4
"""),)
    metrics = table(
        labels=("state", "application_name"),
        columns=(ColumnMap("seconds", "HISTOGRAM", "Idle time of server processes", metric="pg_process_idle_seconds"),),
    )


SPEC = spec(ProcessIdleCollector, enabled_by_default=False)
