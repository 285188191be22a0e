"""PostgreSQL 16 (pgserver wheel): every collector and the version-range handling."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from exporters.core.exposition import render_text
from exporters.postgres.collectors import SPECS
from exporters.postgres.dsn import Dsn
from exporters.postgres.exporter import Options, PostgresExporter, QueriesState
from tests.postgres.expo import parse

LOG = logging.getLogger("exporters.test.postgres")
RANGES = """\
pg_only_16:
  query: SELECT 16 AS v
  runonserver: ">=16.0.0"
  metrics:
    - v:
        usage: GAUGE
pg_before_16:
  query: SELECT 15 AS v
  runonserver: "<16.0.0"
  metrics:
    - v:
        usage: GAUGE
pg_columns:
  query: SELECT 1 AS always, 2 AS new_in_16
  metrics:
    - always:
        usage: GAUGE
    - new_in_16:
        usage: GAUGE
        pg_version: ">=16.0.0"
"""


@pytest.mark.timeout(60)
def test_all_collectors_and_version_ranges_on_16(pg16_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "ranges.yaml"
    path.write_text(RANGES)
    queries = QueriesState(str(path), LOG)
    queries.load()
    exporter = PostgresExporter([Dsn.parse(pg16_dsn)], Options(), queries, list(SPECS), LOG)
    try:
        fams = parse(render_text(exporter.collect(time.monotonic() + 10)).decode())
    finally:
        exporter.close()
    assert fams["pg_up"].value() == 1
    assert fams["pg_static"].samples[0][1]["short_version"].startswith("16.")
    success = {s[1]["collector"]: s[2] for s in fams["pg_scrape_collector_success"].samples}
    assert {name for name, ok in success.items() if ok != 1} <= {"stat_statements"}
    assert "pg_stat_bgwriter_buffers_backend_total" in fams, "still in pg_stat_bgwriter on 16"
    assert fams["pg_exporter_last_scrape_error"].value() == 0
    assert fams["pg_only_16_v"].value() == 16 and "pg_before_16_v" not in fams
    assert fams["pg_columns_always"].value() == 1 and fams["pg_columns_new_in_16"].value() == 2
    # PostgreSQL 16 added a column the v0.15.0 mapping does not know: exported untyped, as upstream
    conflicts = fams.get("pg_stat_database_conflicts_confl_active_logicalslot")
    assert conflicts is not None and conflicts.type == "untyped"
