"""Rendering, number formatting and content negotiation."""

from __future__ import annotations

import io
import json
import logging
import math

import pytest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, UnknownMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from exporters.core.exposition import format_value, render_openmetrics, render_text, wants_openmetrics
from exporters.core.flags import parse_duration
from exporters.core.logs import setup_logging
from exporters.core.metrics import exact_counter, exact_gauge


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # what Go's strconv.FormatFloat(v, 'g', -1, 64) prints
        (0.0, "0"), (-0.0, "0"), (1.0, "1"), (-1.0, "-1"), (42.0, "42"), (999999.0, "999999"), (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"), (2.5e10, "2.5e+10"), (0.0001, "0.0001"), (0.00001, "1e-05"),
        (1.5e-05, "1.5e-05"), (123456.5, "123456.5"), (0.1, "0.1"), (-2.5e-07, "-2.5e-07"),
        (1.8446744073709552e19, "1.8446744073709552e+19"), (5e-324, "5e-324"), (1e100, "1e+100"),
        (math.inf, "+Inf"), (-math.inf, "-Inf"), (math.nan, "NaN"), (3, "3"), (True, "1"),
    ],
)
def test_format_value_matches_go(value: float, expected: str) -> None:
    assert format_value(value) == expected
    if expected != "NaN":
        assert float(expected.replace("+Inf", "inf").replace("-Inf", "-inf")) == float(value)


def test_text_names_types_and_escaping() -> None:
    gauge = GaugeMetricFamily("g", "help with \\ and\nnewline", labels=["l"])
    gauge.add_metric(['quote " back \\ nl \n'], 1)
    plain_counter = CounterMetricFamily("c", "a counter")
    plain_counter.add_metric([], 2)
    odd_counter = exact_counter("redis_odd", "a counter without _total")
    odd_counter.add_metric([], 3)
    odd_gauge = exact_gauge("weird_total", "a gauge ending in _total")
    odd_gauge.add_metric([], 4)
    untyped = UnknownMetricFamily("u", "untyped")
    untyped.add_metric([], 5)
    text = render_text([gauge, plain_counter, odd_counter, odd_gauge, untyped]).decode()
    assert "# HELP g help with \\\\ and\\nnewline\n" in text
    assert 'g{l="quote \\" back \\\\ nl \\n"} 1\n' in text
    assert "# TYPE c_total counter\nc_total 2\n" in text
    assert "# TYPE redis_odd counter\nredis_odd 3\n" in text
    assert "# TYPE weird_total gauge\nweird_total 4\n" in text
    assert "# TYPE u untyped\nu 5\n" in text
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert parsed["g"].samples[0].labels["l"] == 'quote " back \\ nl \n'


def test_openmetrics_keeps_series_names() -> None:
    plain_counter = CounterMetricFamily("c", "a counter")
    plain_counter.add_metric([], 2)
    odd_counter = exact_counter("redis_odd", "a counter without _total")
    odd_counter.add_metric([], 3)
    text = render_openmetrics([plain_counter, odd_counter]).decode()
    assert "# TYPE c counter\nc_total 2\n" in text
    # a counter without _total cannot be an OpenMetrics counter; it stays "redis_odd" as unknown
    assert "# TYPE redis_odd unknown\nredis_odd 3\n" in text
    assert text.endswith("# EOF\n")


def test_families_with_one_name_are_merged_and_empty_ones_dropped() -> None:
    a = GaugeMetricFamily("m", "h", labels=["x"])
    a.add_metric(["1"], 1)
    b = GaugeMetricFamily("m", "h", labels=["x"])
    b.add_metric(["2"], 2)
    empty = GaugeMetricFamily("empty", "h", labels=["x"])
    text = render_text([a, empty, b]).decode()
    assert text.count("# TYPE m gauge") == 1
    assert 'm{x="1"} 1' in text and 'm{x="2"} 2' in text
    assert "empty" not in text


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        (None, False),
        ("", False),
        ("text/plain", False),
        ("application/openmetrics-text;version=1.0.0", True),
        ("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1", True),
        ("application/openmetrics-text;q=0.2,text/plain;q=0.9", False),
        ("application/openmetrics-text;q=0", False),
    ],
)
def test_negotiation(accept: str | None, openmetrics: bool) -> None:
    assert wants_openmetrics(accept) is openmetrics


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0), ("1.5", 1.5), ("0", 0.0), ("250us", 0.00025)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "s", "-1", "1.2.3s", "ms5"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(Exception, match="duration"):
        parse_duration(text)


def test_logfmt_and_json_lines_carry_context() -> None:
    stream = io.StringIO()
    logger = setup_logging("fmt-test", "debug", "logfmt", stream)
    logger.error("collector failed", extra={"collector": "cpu", "err": 'bad "x"'})
    line = stream.getvalue().strip()
    assert 'level=error msg="collector failed" collector=cpu err="bad \\"x\\""' in line
    stream = io.StringIO()
    logger = setup_logging("fmt-test", "warn", "json", stream)
    logger.info("hidden")
    logger.warning("shown", extra={"target": "db1"})
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "warn" and record["msg"] == "shown" and record["target"] == "db1"
    logging.getLogger("exporters.fmt-test").handlers.clear()


def test_setup_logging_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="log level"):
        setup_logging("x", "loud")
