"""The queries-file engine: strict validation with file:line, and turning rows into families."""

from __future__ import annotations

import datetime as dt
import logging
import math
from decimal import Decimal
from pathlib import Path

import pytest

from exporters.core.exposition import render_text
from exporters.postgres.connection import Result
from exporters.postgres.exporter import QueriesState
from exporters.postgres.namespaces import NamespaceCollector
from exporters.postgres.queries import QueriesError, load_queries, parse_queries

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "queries" / "queries.yaml"

GOOD = """\
pg_demo:
  query: "SELECT 'a' AS kind, 1 AS hits"
  master: true
  cache_seconds: 30
  runonserver: ">=10.0.0"
  metrics:
    - kind:
        usage: "LABEL"
        description: "Kind"
    - hits:
        usage: "COUNTER"
        description: "Hits"
"""


def test_shipped_file_is_valid_and_adds_no_builtin_family() -> None:
    loaded = QueriesState.load_file(str(SHIPPED))
    names = {ns.name for ns in loaded.namespaces}
    assert {"pg_slow_query", "pg_table", "pg_lock_mode", "pg_lock_type", "pg_lock_wait"} <= names
    families = {f for ns in loaded.namespaces for f, _, _ in ns.families()}
    wanted = {"pg_slow_query_count", "pg_table_size_bytes", "pg_table_bloat_ratio", "pg_lock_wait_max_seconds"}
    assert wanted <= families


def test_good_file(tmp_path: Path) -> None:
    (ns,) = load_queries(_write(tmp_path, GOOD)).namespaces
    assert ns.master and ns.cache_seconds == 30 and ns.runonserver is not None
    assert [c.usage for c in ns.columns.values()] == ["LABEL", "COUNTER"]
    assert not ns.runs_on((9, 6, 0)) and ns.runs_on((15, 0, 0))


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "q.yaml"
    path.write_text(text)
    return str(path)


BAD = {
    "yaml syntax": ("pg_x:\n  query: 'SELECT 1\n  metrics: []\n", 4, "invalid YAML"),
    "unknown usage": (GOOD.replace('usage: "COUNTER"', 'usage: "COUNTR"'), 11, "unknown usage 'COUNTR'"),
    "unknown namespace key": (GOOD.replace("  master: true", "  mastr: true"), 3, "unknown key 'mastr'"),
    "unknown column key": (GOOD.replace('        description: "Hits"', '        descripton: "Hits"'), 12,
                           "unknown key 'descripton'"),
    "no query": ("pg_x:\n  metrics:\n    - a:\n        usage: GAUGE\n", 1, "has no query"),
    "empty query": ("pg_x:\n  query: ''\n  metrics:\n    - a:\n        usage: GAUGE\n", 2, "empty query"),
    "metrics not a list": ("pg_x:\n  query: SELECT 1\n  metrics:\n    a: 1\n", 4, "must be a list"),
    "no metric column": ("pg_x:\n  query: SELECT 1 AS a\n  metrics:\n    - a:\n        usage: LABEL\n", 4,
                         "no metric column"),
    "master not bool": (GOOD.replace("master: true", "master: 'yes please'"), 3, "master must be true or false"),
    "negative cache": (GOOD.replace("cache_seconds: 30", "cache_seconds: -1"), 4, "must not be negative"),
    "bad runonserver": (GOOD.replace('">=10.0.0"', '"newer than 10"'), 5, "runonserver"),
    "duplicate namespace": (GOOD + GOOD, 13, "duplicate key 'pg_demo'"),
    "duplicate column": (GOOD + "    - hits:\n        usage: GAUGE\n", 13, "declared twice"),
    "bad column name": (GOOD.replace("    - hits:", "    - hits-per-s:"), 10, "not a valid metric or label name"),
    "mapped without mapping": (GOOD.replace('usage: "COUNTER"', 'usage: "MAPPEDMETRIC"'), 10, "no metric_mapping"),
    "mapping on a gauge": (GOOD.replace('        description: "Hits"', '        metric_mapping: {a: 1}'), 12,
                           "only for usage MAPPEDMETRIC"),
    "histogram without siblings": (
        "pg_h:\n  query: SELECT ARRAY[1] AS lat, ARRAY[2] AS lat_bucket, 3 AS lat_sum\n  metrics:\n"
        "    - lat:\n        usage: HISTOGRAM\n", 4, "needs a sibling column 'lat_count'"),
    "histogram sibling with usage": (
        "pg_h:\n  query: SELECT 1 AS lat, 2 AS lat_bucket, 3 AS lat_sum, 4 AS lat_count\n  metrics:\n"
        "    - lat:\n        usage: HISTOGRAM\n    - lat_sum:\n        usage: GAUGE\n", 6, "part of histogram"),
    "collides with a collector": ("pg_database:\n  query: SELECT 1 AS size_bytes\n  metrics:\n"
                                  "    - size_bytes:\n        usage: GAUGE\n", 1, "pg_database_size_bytes"),
    "collides with settings": ("pg_settings:\n  query: SELECT 1 AS x\n  metrics:\n    - x:\n        usage: GAUGE\n",
                               1, "reserved for built-in"),
    "collides with self metric": ("pg:\n  query: SELECT 1 AS up\n  metrics:\n    - up:\n        usage: GAUGE\n", 1,
                                  "pg_up"),
    "collides with another namespace": (
        GOOD + "pg:\n  query: SELECT 1 AS demo_hits\n  metrics:\n    - demo_hits:\n        usage: GAUGE\n", 13,
        "already exports"),
    "server label": (GOOD.replace("    - kind:", "    - server:"), 7, "clashes"),
    "not a mapping": ("- just\n- a list\n", 1, "must be a mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_queries_files_are_refused_with_a_location(case: str, tmp_path: Path) -> None:
    text, line, reason = BAD[case]
    path = _write(tmp_path, text)
    with pytest.raises(QueriesError) as err:
        QueriesState.load_file(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(QueriesError, match="cannot read"):
        load_queries(str(tmp_path / "missing.yaml"))
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"pg_x: \xe9\n")
    with pytest.raises(QueriesError, match="not UTF-8"):
        load_queries(str(path))


def test_overriding_a_default_namespace_is_allowed() -> None:
    text = ("pg_stat_activity:\n  query: SELECT 1 AS count\n  metrics:\n    - count:\n        usage: GAUGE\n")
    (ns,) = parse_queries(text, "x", reserved={"pg_stat_activity_count": "a built-in namespace"},
                          overridable={"pg_stat_activity"})
    assert ns.name == "pg_stat_activity"


def test_empty_file_has_no_namespaces() -> None:
    assert parse_queries("", "x") == ()
    assert parse_queries("# only a comment\n", "x") == ()


ENGINE = """\
pg_t:
  query: SELECT 1
  metrics:
    - db:
        usage: LABEL
    - addr:
        usage: LABEL
    - n:
        usage: GAUGE
        description: "n"
    - c:
        usage: COUNTER
        description: "c"
    - state:
        usage: MAPPEDMETRIC
        metric_mapping: {up: 1, down: 0}
    - timeout:
        usage: DURATION
    - skip_me:
        usage: DISCARD
    - lat:
        usage: HISTOGRAM
        description: "latency"
    - newer:
        usage: GAUGE
        pg_version: ">=16.0.0"
"""


def test_rows_become_families() -> None:
    (ns,) = parse_queries(ENGINE.replace("SELECT 1", "SELECT lat_bucket, lat_sum, lat_count"), "x")
    columns = ["db", "addr", "n", "c", "state", "timeout", "skip_me", "lat", "lat_bucket", "lat_sum", "lat_count",
               "newer", "extra", "text_extra"]
    rows = [
        ("app", "10.0.0.1", Decimal("2.5"), 7, "up", "1m30s", 99, [0.1, 1.0], [3, 5], 2.0, 6, 1, None, "x"),
        ("b", None, None, True, "sideways", dt.timedelta(seconds=2), 99, [1.0], [1], 1.0, 1, 1, 3, "y"),
    ]
    fams = NamespaceCollector(logging.getLogger("test")).families(
        ns, Result(columns, rows), (15, 0, 0), {"server": "h:5432"}
    )
    by_name = {f.name: f for f in fams}
    assert by_name["pg_t_n"].type == "gauge" and by_name["pg_t_c"].type == "counter"
    assert by_name["pg_t_timeout_milliseconds"].samples[0].value == 90000.0
    assert by_name["pg_t_timeout_milliseconds"].samples[1].value == 2000.0
    # MAPPEDMETRIC: a value outside the mapping is skipped, not a crash
    assert [s.value for s in by_name["pg_t_state"].samples] == [1.0]
    # NULL -> NaN; unknown numeric columns are untyped; unknown text columns dropped
    assert math.isnan(by_name["pg_t_n"].samples[1].value)
    assert by_name["pg_t_extra"].type == "unknown" and "pg_t_text_extra" not in by_name
    assert "pg_t_skip_me" not in by_name and "pg_t_newer" not in by_name and "pg_t_lat_sum" not in by_name
    sample = by_name["pg_t_n"].samples[0]
    assert sample.labels == {"addr": "10.0.0.1", "db": "app", "server": "h:5432"}
    assert by_name["pg_t_n"].samples[1].labels["addr"] == ""
    text = render_text(fams).decode()
    assert 'pg_t_lat_bucket{addr="10.0.0.1",db="app",server="h:5432",le="0.1"} 3' in text
    assert 'pg_t_lat_bucket{addr="10.0.0.1",db="app",server="h:5432",le="+Inf"} 6' in text
    assert 'pg_t_lat_sum{addr="10.0.0.1",db="app",server="h:5432"} 2' in text
    assert "# TYPE pg_t_lat histogram" in text
    newer = NamespaceCollector(logging.getLogger("test")).families(ns, Result(columns, rows), (16, 1, 0), {})
    assert "pg_t_newer" in {f.name for f in newer}


def test_collision_names_the_collector_and_disabling_it_allows_the_namespace(tmp_path: Path) -> None:
    path = _write(tmp_path, "pg_stat_user_tables:\n  query: SELECT 'a' AS relname, 1 AS seq_scan\n  metrics:\n"
                            "    - relname:\n        usage: LABEL\n    - seq_scan:\n        usage: COUNTER\n")
    with pytest.raises(QueriesError) as err:
        QueriesState.load_file(path)
    assert "pg_stat_user_tables_seq_scan, which the stat_user_tables collector" in str(err.value)
    assert "--no-collector.stat_user_tables" in str(err.value)
    enabled = ["database", "locks", "stat_database"]
    (ns,) = QueriesState.load_file(path, enabled).namespaces
    assert ns.name == "pg_stat_user_tables"
    state = QueriesState(path, logging.getLogger("test"), enabled)
    state.load()
    assert [n.name for n in state.namespaces()] == ["pg_stat_user_tables"]
