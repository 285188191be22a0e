"""The queries-file engine: strict validation with file:line, and turning rows into families."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from exporters.core.exposition import render_text
from exporters.postgres.connection import Result
from exporters.postgres.exporter import QueriesState
from exporters.postgres.queries import load_queries, parse_queries

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


def test_shipped_file_is_clean_and_adds_no_builtin_family() -> None:
    loaded = QueriesState.load_file(str(SHIPPED))
    assert loaded.problems == ()
    names = {ns.name for ns in loaded.namespaces}
    assert {"pg_slow_query", "pg_table", "pg_lock_mode", "pg_lock_type", "pg_lock_wait"} <= names
    families = {f for ns in loaded.namespaces for f, _, _ in ns.metrics.families()}
    wanted = {"pg_slow_query_count", "pg_table_size_bytes", "pg_table_bloat_ratio", "pg_lock_wait_max_seconds"}
    assert wanted <= families


def test_good_file(tmp_path: Path) -> None:
    loaded = load_queries(_write(tmp_path, GOOD))
    (ns,) = loaded.namespaces
    assert loaded.problems == ()
    assert ns.master and ns.cache_seconds == 30 and ns.runonserver is not None
    assert [c.usage for c in ns.metrics.columns.values()] == ["LABEL", "COUNTER"]
    assert not ns.runs_on((9, 6, 0)) and ns.runs_on((15, 0, 0))


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "q.yaml"
    path.write_text(text)
    return str(path)


HIST = "pg_h:\n  query: SELECT ARRAY[1] AS lat, ARRAY[2] AS lat_bucket, 3 AS lat_sum{count}\n  metrics:\n" \
       "    - lat:\n        usage: HISTOGRAM\n"
# case -> (text, line, reason, is it an error, namespaces still served)
PROBLEMS: dict[str, tuple[str, int, str, bool, set[str]]] = {
    "yaml syntax": ("pg_x:\n  query: 'SELECT 1\n  metrics: []\n", 4, "invalid YAML", True, set()),
    "not a mapping": ("- just\n- a list\n", 1, "must be a mapping", True, set()),
    "unknown usage": (GOOD.replace('usage: "COUNTER"', 'usage: "COUNTR"'), 11, "unknown usage 'COUNTR'", True,
                      set()),
    "unknown namespace key": (GOOD.replace("  master: true", "  query_aurora: SELECT 2"), 3,
                              "unknown key 'query_aurora'", False, {"pg_demo"}),
    "unknown column key": (GOOD.replace('        description: "Hits"', '        descripton: "Hits"'), 12,
                           "unknown key 'descripton'", False, {"pg_demo"}),
    "no query": ("pg_x:\n  metrics:\n    - a:\n        usage: GAUGE\n", 1, "has no query", True, set()),
    "empty query": ("pg_x:\n  query: ''\n  metrics:\n    - a:\n        usage: GAUGE\n", 2, "empty query", True,
                    set()),
    "metrics not a list": ("pg_x:\n  query: SELECT 1\n  metrics:\n    a: 1\n", 4, "must be a list", True, set()),
    "no metric column": ("pg_x:\n  query: SELECT 1 AS a\n  metrics:\n    - a:\n        usage: LABEL\n", 1,
                         "no metric column", False, {"pg_x"}),
    "master not bool": (GOOD.replace("master: true", "master: 'yes please'"), 3, "master must be true or false",
                        True, set()),
    "negative cache": (GOOD.replace("cache_seconds: 30", "cache_seconds: -1"), 4, "must not be negative", True,
                       set()),
    "bad runonserver": (GOOD.replace('">=10.0.0"', '"newer than 10"'), 5, "runonserver", True, set()),
    "duplicate namespace": (GOOD + GOOD.replace('"Hits"', '"Later"'), 13, "duplicate key 'pg_demo'", False,
                            {"pg_demo"}),
    "duplicate column": (GOOD + "    - hits:\n        usage: GAUGE\n", 13, "declared twice", False, {"pg_demo"}),
    "bad column name": (GOOD.replace("    - hits:", "    - hits-per-s:"), 10, "not a valid metric or label name",
                        True, set()),
    "mapped without mapping": (GOOD.replace('usage: "COUNTER"', 'usage: "MAPPEDMETRIC"'), 10, "no metric_mapping",
                               False, {"pg_demo"}),
    "mapping on a gauge": (GOOD.replace('        description: "Hits"', '        metric_mapping: {a: 1}'), 12,
                           "is ignored", False, {"pg_demo"}),
    "histogram without siblings": (HIST.format(count=""), 4, "needs a sibling column 'lat_count'", True, set()),
    "histogram sibling with usage": (HIST.format(count=", 4 AS lat_count") + "    - lat_sum:\n        usage: GAUGE\n",
                                     6, "part of histogram", False, {"pg_h"}),
    "repeats a collector": ("pg_database:\n  query: SELECT 1 AS size_bytes\n  metrics:\n"
                            "    - size_bytes:\n        usage: GAUGE\n", 1, "both are served", False,
                            {"pg_database"}),
    "collides with self metric": ("pg:\n  query: SELECT 1 AS up\n  metrics:\n    - up:\n        usage: GAUGE\n",
                                  1, "pg_up", True, set()),
    "collides with another namespace": (
        GOOD + "pg:\n  query: SELECT 1 AS demo_hits\n  metrics:\n    - demo_hits:\n        usage: GAUGE\n", 13,
        "exports too", False, {"pg_demo", "pg"}),
    "server label": (GOOD.replace("    - kind:", "    - server:"), 7, "clashes", True, set()),
}


@pytest.mark.parametrize("case", sorted(PROBLEMS))
def test_problems_have_a_location_and_only_errors_skip_an_entry(case: str, tmp_path: Path) -> None:
    text, line, reason, error, served = PROBLEMS[case]
    path = _write(tmp_path, text + "pg_fine:\n  query: SELECT 1 AS v\n  metrics:\n    - v:\n        usage: GAUGE\n"
                  if not case.startswith(("yaml", "not a")) else text)
    loaded = QueriesState.load_file(path)
    (problem,) = [p for p in loaded.problems if reason in p.message]
    assert problem.where == f"{path}:{line}" and problem.error is error, problem
    assert problem.severe is (case == "collides with another namespace"), "only what upstream answers 500 for"
    names = {ns.name for ns in loaded.namespaces}
    assert names == served | ({"pg_fine"} if not case.startswith(("yaml", "not a")) else set())


def test_the_last_of_a_repeated_key_wins_as_in_go(tmp_path: Path) -> None:
    (ns,) = load_queries(_write(tmp_path, GOOD + GOOD.replace('"Hits"', '"Later"'))).namespaces
    assert ns.metrics.columns["hits"].description == "Later"


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = ("base: &base\n  master: true\n  metrics:\n    - v:\n        usage: GAUGE\n"
            "pg_a:\n  <<: *base\n  query: SELECT 1 AS v\npg_b:\n  <<: *base\n  query: SELECT 2 AS v\n")
    loaded = load_queries(_write(tmp_path, text))
    assert {ns.name: ns.master for ns in loaded.namespaces} == {"pg_a": True, "pg_b": True}
    assert [p.message for p in loaded.problems if "base" in p.message] == ["namespace 'base' has no query"]


def test_unreadable_and_non_utf8_files_are_one_error_each(tmp_path: Path) -> None:
    (problem,) = load_queries(str(tmp_path / "missing.yaml")).problems
    assert problem.error and "cannot read" in problem.message
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"pg_x: \xe9\n")
    (problem,) = load_queries(str(path)).problems
    assert problem.error and "not UTF-8" in problem.message


def test_a_broken_file_never_stops_the_exporter_and_a_bad_reload_keeps_the_old_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "pg_x: [unclosed\n")
    state = QueriesState(path, logging.getLogger("test"))
    state.load()
    assert state.namespaces() == () and state.metric({}).samples[0].value == 1
    _write(tmp_path, GOOD)
    state.reload()
    assert [ns.name for ns in state.namespaces()] == ["pg_demo"] and state.metric({}).samples[0].value == 0
    _write(tmp_path, "pg_x: [unclosed\n")
    state.reload()
    assert [ns.name for ns in state.namespaces()] == ["pg_demo"] and state.metric({}).samples[0].value == 1


def test_overriding_a_default_namespace_is_allowed() -> None:
    text = ("pg_stat_activity:\n  query: SELECT 1 AS count\n  metrics:\n    - count:\n        usage: GAUGE\n")
    (ns,), problems = parse_queries(text, "x", shared={"pg_stat_activity_count": "a built-in namespace"},
                                    overridable={"pg_stat_activity"})
    assert ns.name == "pg_stat_activity" and problems == []


def test_empty_file_has_no_namespaces() -> None:
    assert parse_queries("", "x") == ((), [])
    assert parse_queries("# only a comment\n", "x") == ((), [])


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
    (ns,), _ = parse_queries(ENGINE.replace("SELECT 1", "SELECT lat_bucket, lat_sum, lat_count"), "x")
    columns = ["db", "addr", "n", "c", "state", "timeout", "skip_me", "lat", "lat_bucket", "lat_sum", "lat_count",
               "newer", "extra", "text_extra"]
    # as the connection loads them: numeric, arrays and intervals as the server's text
    rows = [
        ("app", "10.0.0.1", "2.5", 7, "up", "1m30s", 99, "{0.1,1.0}", "{3,5}", 2.0, 6, 1, None, "x"),
        ("b", None, None, True, "sideways", "00:00:02", 99, "{1.0}", "{1}", 1.0, 1, 1, 3, "y"),
        ("c", "x", 1, 2, 1, 5, 99, "{}", "{}", 0, 0, 1, 3, "y"),
        ("d", "x", 1, 2, "0", "-1", 99, "{}", "{}", 0, 0, 1, 3, "y"),
    ]
    fams = ns.metrics.build(Result(columns, rows), (15, 0, 0), {"server": "h:5432"}, logging.getLogger("test"))
    by_name = {f.name: f for f in fams}
    assert by_name["pg_t_n"].type == "gauge" and by_name["pg_t_c"].type == "counter"
    assert by_name["pg_t_timeout_milliseconds"].samples[0].value == 90000.0
    assert by_name["pg_t_timeout_milliseconds"].samples[1].value == 2000.0
    # a number in a DURATION or MAPPEDMETRIC column is exported as it is, as upstream does
    assert [s.value for s in by_name["pg_t_timeout_milliseconds"].samples[2:]] == [5.0, -1.0]
    # MAPPEDMETRIC: text through the mapping, a value outside it skipped, not a crash
    assert [s.value for s in by_name["pg_t_state"].samples] == [1.0, 1.0, 0.0]
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
    newer = ns.metrics.build(Result(columns, rows), (16, 1, 0), {}, logging.getLogger("test"))
    assert "pg_t_newer" in {f.name for f in newer}


def test_repeating_a_collector_is_served_with_one_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, "pg_stat_user_tables:\n  query: SELECT 'a' AS relname, 1 AS seq_scan\n  metrics:\n"
                            "    - relname:\n        usage: LABEL\n    - seq_scan:\n        usage: COUNTER\n")
    loaded = QueriesState.load_file(path)
    (problem,) = loaded.problems
    assert not problem.error and "the stat_user_tables collector" in problem.message
    assert [ns.name for ns in loaded.namespaces] == ["pg_stat_user_tables"]
    assert QueriesState.load_file(path, ["database", "locks"]).problems == ()


def test_building_families_stops_at_the_deadline() -> None:
    from exporters.core.deadline import DeadlineExceeded

    (ns,), _ = parse_queries("pg_big:\n  query: SELECT 1\n  metrics:\n    - row:\n        usage: LABEL\n"
                             "    - v:\n        usage: GAUGE\n", "x")
    result = Result(["row", "v"], [(str(i), i) for i in range(5000)])
    ticks = iter(range(10**6))
    with pytest.raises(DeadlineExceeded, match="converting row 3072 of 5000"):
        ns.metrics.build(result, (15, 0, 0), {}, logging.getLogger("test"), deadline=1.5,
                         clock=lambda: float(next(ticks)))
    (fam,) = ns.metrics.build(result, (15, 0, 0), {}, logging.getLogger("test"), deadline=None)
    assert len(fam.samples) == 5000
