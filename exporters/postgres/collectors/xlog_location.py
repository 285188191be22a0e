"""xlog_location: upstream's collector/pg_xlog_location.go.

Families: ``pg_xlog_location_bytes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from exporters.core.metrics import Metric
from exporters.postgres.collectors._table import TableCollector, gauge, spec, table
from exporters.postgres.connection import Result
from exporters.postgres.engine import Server


class XlogLocationCollector(TableCollector):
    name = "xlog_location"
    queries = (
        ("<10.0.0", """
SELECT CASE WHEN pg_is_in_recovery() THEN (pg_last_xlog_replay_location() - '0/0') % (2^52)::bigint
            ELSE (pg_current_xlog_location() - '0/0') % (2^52)::bigint END AS bytes
"""),
    )
    metrics = table(
        columns=(gauge("bytes", "pg_xlog_location_bytes",
                "Postgres LSN (log sequence number) being generated on primary or replayed on replica "
                "(truncated to low 52 bits)"),),
    )

    _warned = False

    def collect(self, results: Sequence[Result], server: Server) -> Iterable[Metric]:
        if server.version >= (10, 0, 0):
            # as upstream: the xlog functions were renamed in 10; no data, not a failure
            if not self._warned:
                self._warned = True
                self.logger.warning("xlog_location collector is not available on PostgreSQL >= 10.0.0, skipping",
                                    extra={"collector": self.name})
            return []
        return super().collect(results, server)


SPEC = spec(XlogLocationCollector, enabled_by_default=False)
