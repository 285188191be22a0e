"""The row-based families render exactly as prometheus_client's families do."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporters.core.exposition import format_value, render_openmetrics, render_text
from exporters.core.metrics import CounterFamily, GaugeFamily, Sample, exact_counter, exact_gauge

VALUES = [0.0, -0.0, 1.0, 1.5, -3.25, 1e6, 999999.0, 1e-4, 1e-5, 123456789.0, 2.0**64, math.inf, -math.inf,
          math.nan, 0.1, 7]
LABELS = ["plain", 'quote "x"', "back\\slash", "new\nline", "", "ünï", "{braces}"]


def both(kind: str) -> tuple[Metric, Metric]:
    if kind == "gauge":
        ours: Metric = GaugeFamily("test_value", "A gauge\\with\nhelp.", labels=["a", "b"])
        theirs: Metric = GaugeMetricFamily("test_value", "A gauge\\with\nhelp.", labels=["a", "b"])
    else:
        ours = CounterFamily("test_events_total", "A counter.", labels=["a", "b"])
        theirs = CounterMetricFamily("test_events_total", "A counter.", labels=["a", "b"])
    for i, value in enumerate(VALUES):
        label = LABELS[i % len(LABELS)]
        ours.add_metric([label, str(i)], value)  # type: ignore[attr-defined]
        theirs.add_metric([label, str(i)], value)  # type: ignore[attr-defined]
    return ours, theirs


@pytest.mark.parametrize("kind", ["gauge", "counter"])
@pytest.mark.parametrize("render", [render_text, render_openmetrics])
def test_rows_render_like_prometheus_client_families(kind: str, render: object) -> None:
    ours, theirs = both(kind)
    expected = render([theirs])  # type: ignore[operator]
    assert render([ours]) == expected  # type: ignore[operator]
    # reading samples turns the rows into Sample objects; the output stays the same
    assert ours.samples == theirs.samples
    assert render([ours]) == expected  # type: ignore[operator]


def test_families_merge_across_both_kinds_and_unlabelled_values() -> None:
    a = GaugeFamily("test_up", "Up.", value=1)
    b = GaugeMetricFamily("test_up", "Up.", value=0)
    c = CounterFamily("test_requests", "Requests.", value=3)
    text = render_text([a, b, c]).decode()
    assert text == ("# HELP test_up Up.\n# TYPE test_up gauge\ntest_up 1\ntest_up 0\n"
                    "# HELP test_requests_total Requests.\n# TYPE test_requests_total counter\n"
                    "test_requests_total 3\n")
    assert render_openmetrics([c]).decode().startswith("# HELP test_requests Requests.\n# TYPE test_requests counter\n")


def test_empty_families_are_left_out_and_wrong_label_counts_refused() -> None:
    assert render_text([GaugeFamily("test_empty", "Nothing.", labels=["x"])]) == b""
    family = GaugeFamily("test_two", "Two labels.", labels=["x", "y"])
    with pytest.raises(ValueError, match="1 label values for 2"):
        family.add_metric(["only"], 1)
    with pytest.raises(ValueError):
        GaugeFamily("test_both", "Both.", value=1, labels=["x"])


def test_samples_can_be_appended_and_replaced_as_on_any_metric() -> None:
    family = exact_gauge("test_mixed", "Mixed.", ["x"])
    family.add_metric(["a"], 1)
    family.samples.append(Sample("test_mixed", {"x": "b"}, 2.0, None, None, None))
    family.add_metric(["c"], 3)
    assert [s.labels["x"] for s in family.samples] == ["a", "b", "c"]
    assert render_text([family]).decode().splitlines()[2:] == ['test_mixed{x="a"} 1', 'test_mixed{x="b"} 2',
                                                               'test_mixed{x="c"} 3']
    family.samples = []
    assert render_text([family]) == b""
    counter = exact_counter("test_exact", "No _total.")
    counter.add_metric([], 5)
    assert render_text([counter]).decode().splitlines()[2] == "test_exact 5"


def test_format_value_fast_paths_agree_with_the_general_conversion() -> None:
    rng = random.Random(7)
    values = [rng.uniform(-1e6, 1e6) for _ in range(20000)]
    values += [rng.uniform(-1, 1) * 10 ** rng.uniform(-6, 7) for _ in range(20000)]
    for value in values:
        text = format_value(value)
        assert float(text) == value
        mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
        assert len(mantissa) <= 17
        if 1e-4 <= abs(value) < 1e6:
            assert "e" not in text
        else:
            assert "e" in text or value.is_integer()
