"""Pure parts of the postgres exporter: DSNs, versions, values, settings, flags."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from ipaddress import ip_address
from pathlib import Path

import pytest

from exporters.core.flags import ConfigError
from exporters.postgres.collectors import CLASSES
from exporters.postgres.connection import server_version_tuple
from exporters.postgres.default_metrics import NAMESPACES, for_version
from exporters.postgres.dsn import MASK, Dsn, data_sources_from_env, redact
from exporters.postgres.engine import pick_query
from exporters.postgres.main import parse_constant_labels
from exporters.postgres.settings import SettingError, parse_setting
from exporters.postgres.values import ConversionError, go_duration_ms, interval_ms, to_float, to_float_list, to_label
from exporters.postgres.versions import VersionRangeError, parse_range, parse_version_string

SECRET = "pa:ss@w/rd"


def test_uri_and_keyvalue_dsns_parse_alike() -> None:
    uri = Dsn.parse("postgresql://mon:pw@db.example:6543/app?sslmode=disable")
    kv = Dsn.parse("host=db.example port=6543 user=mon password=pw dbname=app sslmode=disable")
    assert uri.params == kv.params
    assert uri.server == "db.example:6543"


def test_bare_host_port_is_a_uri_and_defaults_fill_the_server_label() -> None:
    assert Dsn.parse("db:5433/x").server == "db:5433"
    assert Dsn.parse("dbname=x").server == "localhost:5432"


@pytest.mark.parametrize("text", ["", "   ", f"host=h password='{SECRET}", f"host='x password={SECRET}", f"postgresql://h/db?{SECRET}=1"])
def test_unparseable_dsn_is_a_config_error_without_its_text(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        Dsn.parse(text)
    assert SECRET not in str(err.value)


def test_display_masks_the_password_everywhere() -> None:
    dsn = Dsn.parse(f"postgresql://mon:{'pa%3Ass%40w%2Frd'}@h:1/db?sslmode=disable")
    assert dsn.password == SECRET
    shown = dsn.display()
    assert MASK in shown and SECRET not in shown and "pa%3Ass" not in shown
    assert SECRET not in repr(dsn) and SECRET not in str(dsn)
    assert dsn.redact(f"failed for {SECRET} and pa%3Ass%40w%2Frd") == f"failed for {MASK} and {MASK}"
    assert redact("nothing", [""]) == "nothing"


def test_data_source_name_wins_and_splits_on_commas() -> None:
    env = {"DATA_SOURCE_NAME": "postgresql://a@h1/x,host=h2 user=b", "DATA_SOURCE_URI": "ignored:1/y"}
    assert [d.server for d in data_sources_from_env(env)] == ["h1:5432", "h2:5432"]


def test_uri_user_pass_and_file_forms(tmp_path: Path) -> None:
    (tmp_path / "pass").write_text(SECRET + "\n")
    (tmp_path / "user").write_text("fileuser\n")
    env = {"DATA_SOURCE_URI": "db:5555/app?sslmode=disable", "DATA_SOURCE_USER": "envuser",
           "DATA_SOURCE_PASS": "envpass", "DATA_SOURCE_PASS_FILE": str(tmp_path / "pass")}
    (dsn,) = data_sources_from_env(env)
    assert dsn.params["user"] == "envuser" and dsn.password == SECRET and dsn.dbname == "app"
    env["DATA_SOURCE_USER_FILE"] = str(tmp_path / "user")
    assert data_sources_from_env(env)[0].params["user"] == "fileuser"
    assert data_sources_from_env({}) == []


def test_missing_secret_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pass file"):
        data_sources_from_env({"DATA_SOURCE_URI": "h/db", "DATA_SOURCE_PASS_FILE": str(tmp_path / "nope")})


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        (">=10.0.0", [(10, 0, 0), (16, 2, 0)], [(9, 6, 24)]),
        (">=9.4.0 <10.0.0", [(9, 4, 0), (9, 6, 1)], [(10, 0, 0), (9, 3, 9)]),
        ("<13 || >=16", [(12, 9, 0), (16, 0, 0)], [(13, 0, 0), (15, 4, 0)]),
        (">= 14.0.0", [(14, 0, 0)], [(13, 9, 9)]),
        ("15.4.0", [(15, 4, 0)], [(15, 4, 1)]),
        ("!=15", [(14, 0, 0)], [(15, 0, 0)]),
    ],
)
def test_version_ranges(text: str, inside: list[tuple[int, int, int]], outside: list[tuple[int, int, int]]) -> None:
    versions = parse_range(text)
    assert all(versions(v) for v in inside)
    assert not any(versions(v) for v in outside)


@pytest.mark.parametrize("text", ["", "banana", ">=x.1", ">=10.0.0 ||", "~>1.2"])
def test_bad_version_ranges(text: str) -> None:
    with pytest.raises(VersionRangeError):
        parse_range(text)


def test_server_version_numbers() -> None:
    assert server_version_tuple(150004) == (15, 4, 0)
    assert server_version_tuple(90624) == (9, 6, 24)
    assert parse_version_string("PostgreSQL 16.2 on x86_64-pc-linux-gnu") == (16, 2, 0)
    assert parse_version_string("EnterpriseDB 9.6.1.2") == (9, 6, 1)
    assert parse_version_string("garbage") is None


def test_value_conversions() -> None:
    assert to_float(Decimal("1.5")) == 1.5
    assert to_float(7) == 7.0 and to_float(True) == 1.0 and to_float(False) == 0.0
    assert math.isnan(to_float(None))
    assert to_float(dt.datetime(1970, 1, 2, tzinfo=dt.UTC)) == 86400.0
    assert to_float(dt.datetime(1970, 1, 2)) == 86400.0
    assert to_float(dt.date(1970, 1, 3)) == 172800.0
    # whole seconds, rounded down, as Go's Time.Unix()
    assert to_float(dt.datetime(1970, 1, 2, 0, 0, 1, 999_999, tzinfo=dt.UTC)) == 86401.0
    assert to_float(dt.datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=dt.UTC)) == -1.0
    # text as Go's strconv.ParseFloat reads it (numeric columns arrive as text)
    assert to_float("42.5") == 42.5 and to_float("-1e3") == -1000.0 and to_float("Infinity") == math.inf
    assert math.isnan(to_float("NaN"))
    for text in (" 42.5 ", "1_000", "idle", "", "0x10"):
        with pytest.raises(ConversionError):
            to_float(text)
    with pytest.raises(ConversionError):
        to_float([1, 2])
    assert to_float_list("{1,2.5,NULL}")[:2] == [1.0, 2.5] and to_float_list("{}") == []


def test_durations() -> None:
    assert go_duration_ms("1h2m3.5s") == 3723500.0
    assert go_duration_ms("1.5ms") == 1.0 and go_duration_ms("-1.5ms") == -1.0
    assert go_duration_ms("0") == 0.0 and go_duration_ms("300µs") == 0.0
    for bad in ("5", "1d", "", "1 s"):
        with pytest.raises(ConversionError):
            go_duration_ms(bad)
    assert interval_ms("1 day 02:00:00") == 93_600_000.0
    assert interval_ms("-00:00:01.5") == -1500.0


def test_label_conversions() -> None:
    assert to_label(None) == "" and to_label(True) == "true"
    assert to_label(ip_address("10.0.0.1")) == "10.0.0.1"
    assert to_label(dt.datetime(1970, 1, 1, 0, 1, tzinfo=dt.UTC)) == "60"
    assert to_label(1e6) == "1e+06" and to_label(2.5) == "2.5"
    assert to_label(Decimal("3.10")) == "3.10"
    assert to_label(123456789.0) == "1.23456789e+08" and to_label(7) == "7"
    assert to_label(b"caf\xe9") == "caf\ufffd"


@pytest.mark.parametrize(
    ("row", "name", "value"),
    [
        (("shared_buffers", "16384", "8kB", "integer"), "pg_settings_shared_buffers_bytes", 16384 * 8192.0),
        (("statement_timeout", "1500", "ms", "integer"), "pg_settings_statement_timeout_seconds", 1.5),
        (("autovacuum_naptime", "1", "min", "integer"), "pg_settings_autovacuum_naptime_seconds", 60.0),
        (("log_min_duration_statement", "-1", "ms", "integer"), "pg_settings_log_min_duration_statement_seconds",
         -1.0),
        (("fsync", "on", "", "bool"), "pg_settings_fsync", 1.0),
        (("jit", "off", "", "bool"), "pg_settings_jit", 0.0),
        (("seq_page_cost", "1.5", "", "real"), "pg_settings_seq_page_cost", 1.5),
        (("pg_stat_statements.max", "5000", "", "integer"), "pg_settings_pg_stat_statements_max", 5000.0),
        (("wal_segment_size", "16777216", "B", "integer"), "pg_settings_wal_segment_size_bytes", 16777216.0),
    ],
)
def test_settings_units(row: tuple[str, str, str, str], name: str, value: float) -> None:
    parsed = parse_setting(*row)
    assert (parsed.name, parsed.value) == (name, value)


@pytest.mark.parametrize("row", [("x", "1", "parsec", "integer"), ("x", "abc", "", "integer"),
                                 ("x", "a", "", "string")])
def test_settings_refuse_what_they_cannot_read(row: tuple[str, str, str, str]) -> None:
    with pytest.raises(SettingError):
        parse_setting(*row)


def test_constant_labels() -> None:
    assert parse_constant_labels(" env = prod , team=db,empty=") == {"env": "prod", "team": "db"}
    assert parse_constant_labels("") == {}
    for bad in ["noequals", "a=b=c", "1x=y", "server=x"]:
        with pytest.raises(ConfigError):
            parse_constant_labels(bad)


def test_version_rows_pick_the_right_query() -> None:
    def query(name: str, version: tuple[int, int, int]) -> str:
        return pick_query(CLASSES[name].queries, version) or ""
    assert "pg_stat_checkpointer" in query("stat_bgwriter", (17, 0, 0))
    assert "pg_stat_checkpointer" not in query("stat_bgwriter", (16, 4, 0))
    assert "shared_blk_read_time" in query("stat_statements", (17, 2, 0))
    assert "total_exec_time" in query("stat_statements", (13, 0, 0))
    assert "total_time /" in query("stat_statements", (12, 9, 0))
    assert "flushed_lsn - " in query("stat_wal_receiver", (13, 0, 0))
    assert "flushed_lsn - " not in query("stat_wal_receiver", (12, 0, 0))
    # upstream: only the pre-10 function names; skipped with a warning on 10 and later
    assert query("xlog_location", (10, 0, 0)) == ""
    assert "pg_current_xlog_location" in query("xlog_location", (9, 6, 0))


def test_default_namespaces_by_version() -> None:
    by_name = {ns.name: ns for ns in NAMESPACES}
    replication = for_version(by_name["pg_stat_replication"], (15, 0, 0))
    assert replication is not None and "pg_current_wal_lsn" in replication.query
    old = for_version(by_name["pg_stat_replication"], (9, 6, 0))
    assert old is not None and "pg_current_xlog_location" in old.query
    assert for_version(by_name["pg_replication_slots"], (9, 3, 0)) is None, "no query: namespace disabled"
    conflicts = for_version(by_name["pg_stat_database_conflicts"], (15, 0, 0))
    assert conflicts is not None and conflicts.query == "SELECT * FROM pg_stat_database_conflicts"
    activity = for_version(by_name["pg_stat_activity"], (15, 0, 0))
    # as upstream, the exporter's own session is counted
    assert activity is not None and "pg_backend_pid()" not in activity.query
