"""The shared runtime through a real HTTP client against a running server."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from exporters.core.metrics import GaugeFamily, Metric
from tests.core.conftest import App, RaisingCollector, SleepingCollector, StaticCollector

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.1"
)

AppFactory = Callable[..., App]


def test_landing_page_links_to_telemetry_path(app_factory: AppFactory) -> None:
    app = app_factory({"a": StaticCollector("a")}, ["--web.telemetry-path", "/custom"])
    page = requests.get(app.url + "/", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'href="/custom"' in page.text
    assert requests.get(app.url + "/custom", timeout=5).status_code == 200
    assert requests.get(app.url + "/metrics", timeout=5).status_code == 404


def test_unknown_path_is_404(app_factory: AppFactory) -> None:
    app = app_factory({"a": StaticCollector("a")})
    response = requests.get(app.url + "/nope", timeout=5)
    assert response.status_code == 404
    assert response.text == "404 page not found\n"


def test_text_format_is_the_default(app_factory: AppFactory) -> None:
    app = app_factory({"a": StaticCollector("a")})
    response = requests.get(app.url + "/metrics", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    body = response.text
    assert '# TYPE test_a_value gauge\ntest_a_value{kind="a"} 1.5\n' in body
    assert "# TYPE test_a_events_total counter\ntest_a_events_total 42\n" in body
    assert 'test_scrape_collector_success{collector="a"} 1' in body
    assert "test_exporter_build_info{" in body
    assert "process_resident_memory_bytes" in body
    assert "_created" not in body
    assert "# EOF" not in body


def test_text_format_even_when_openmetrics_is_preferred(app_factory: AppFactory) -> None:
    """As node_exporter 1.7.0 and postgres_exporter 0.15.0: Prometheus's Accept header gets text 0.0.4."""
    app = app_factory({"a": StaticCollector("a")})
    response = requests.get(app.url + "/metrics", headers={"Accept": PROMETHEUS_ACCEPT}, timeout=5)
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE test_a_events_total counter\ntest_a_events_total 42\n" in response.text
    assert "# EOF" not in response.text


def test_openmetrics_when_enabled_and_asked(app_factory: AppFactory) -> None:
    app = app_factory({"a": StaticCollector("a")}, ["--web.enable-openmetrics"])
    response = requests.get(app.url + "/metrics", headers={"Accept": PROMETHEUS_ACCEPT}, timeout=5)
    assert response.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    body = response.text
    assert body.endswith("# EOF\n")
    assert "# TYPE test_a_events counter\ntest_a_events_total 42\n" in body
    assert "_created" not in body


def test_gzip_when_accepted(app_factory: AppFactory) -> None:
    app = app_factory({"a": StaticCollector("a")})
    raw = requests.get(app.url + "/metrics", headers={"Accept-Encoding": "gzip"}, timeout=5, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    compressed = raw.raw.read(decode_content=False)
    text = gzip.decompress(compressed).decode()
    assert "test_a_value" in text
    plain = requests.get(app.url + "/metrics", headers={"Accept-Encoding": "identity"}, timeout=5)
    assert "Content-Encoding" not in plain.headers


def test_raising_collector_is_isolated(app_factory: AppFactory) -> None:
    app = app_factory({"good": StaticCollector("good"), "bad": RaisingCollector()})
    response = requests.get(app.url + "/metrics", timeout=5)
    assert response.status_code == 200
    assert 'test_scrape_collector_success{collector="bad"} 0' in response.text
    assert 'test_scrape_collector_success{collector="good"} 1' in response.text
    assert "test_good_value" in response.text
    failures = [line for line in app.log().splitlines() if "collector failed" in line]
    assert len(failures) == 1
    assert "collector=bad" in failures[0] and "disk on fire" in failures[0]


@pytest.mark.timeout(30)
def test_scrape_deadline_from_prometheus_header(app_factory: AppFactory) -> None:
    app = app_factory({"fast": StaticCollector("fast"), "slow": SleepingCollector(5)})
    began = time.monotonic()
    response = requests.get(app.url + "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "1"}, timeout=10)
    elapsed = time.monotonic() - began
    assert response.status_code == 200
    assert elapsed < 1.5, elapsed
    assert 'test_scrape_collector_success{collector="slow"} 0' in response.text
    assert 'test_scrape_collector_success{collector="fast"} 1' in response.text
    assert "test_fast_value" in response.text
    assert "collector=slow" in app.log()


@pytest.mark.timeout(30)
def test_default_deadline_flag_applies_without_header(app_factory: AppFactory) -> None:
    app = app_factory({"slow": SleepingCollector(5), "fast": StaticCollector("fast")},
                      ["--scrape.timeout", "1s", "--scrape.timeout-offset", "0.2s"])
    began = time.monotonic()
    response = requests.get(app.url + "/metrics", timeout=10)
    assert time.monotonic() - began < 1.5
    assert 'test_scrape_collector_success{collector="slow"} 0' in response.text


@pytest.mark.timeout(30)
def test_concurrent_scrapes_share_one_collection(app_factory: AppFactory) -> None:
    slow = SleepingCollector(0.5)
    app = app_factory({"slow": slow, "fast": StaticCollector("fast")})
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: requests.get(app.url + "/metrics", timeout=10).status_code, range(4)))
    assert codes == [200] * 4
    assert slow.calls < 4


@pytest.mark.timeout(60)
def test_requests_beyond_max_requests_get_503(app_factory: AppFactory) -> None:
    app = app_factory({"slow": SleepingCollector(1.0), "fast": StaticCollector("fast")},
                      ["--web.max-requests", "2", "--no-scrape.share"])
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: requests.get(app.url + "/metrics", timeout=10), range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) >= 1
    assert codes.count(503) >= 1
    assert set(codes) <= {200, 503}
    refused = next(r for r in responses if r.status_code == 503)
    assert "Limit of concurrent requests reached (2)" in refused.text


@pytest.mark.timeout(60)
def test_max_requests_counts_multi_target_endpoints_too(app_factory: AppFactory) -> None:
    app = app_factory({"slow": SleepingCollector(1.0)}, ["--web.max-requests", "2", "--no-scrape.share"], probe=True)
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: requests.get(app.url + "/probe", timeout=10).status_code, range(8)))
    assert codes.count(200) >= 1
    assert codes.count(503) >= 1
    assert set(codes) <= {200, 503}


def test_collect_and_exclude_params(app_factory: AppFactory) -> None:
    app = app_factory({"a": StaticCollector("a"), "b": StaticCollector("b")})
    only_a = requests.get(app.url + "/metrics", params={"collect[]": "a"}, timeout=5).text
    assert "test_a_value" in only_a and "test_b_value" not in only_a
    not_a = requests.get(app.url + "/metrics", params={"exclude[]": "a"}, timeout=5).text
    assert "test_a_value" not in not_a and "test_b_value" in not_a


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"collect[]": "a", "exclude[]": "b"}, "Combined collect and exclude queries are not allowed.\n"),
        ({"collect[]": "nope"},
         "Couldn't create filtered metrics handler: couldn't create collector: missing collector: nope\n"),
        ({"exclude[]": "nope"},
         "Couldn't create filtered metrics handler: couldn't create collector: missing collector: nope\n"),
    ],
)
def test_collect_and_exclude_refusals(app_factory: AppFactory, params: dict[str, str], message: str) -> None:
    """node_exporter's two 400 answers (NodeMetrics, as node serves /metrics)."""
    app = app_factory({"a": StaticCollector("a"), "b": StaticCollector("b")})
    response = requests.get(app.url + "/metrics", params=params, timeout=5)
    assert response.status_code == 400
    assert response.text == message


@pytest.mark.parametrize("header", ["1e10", "inf", "nan", "-5", "0", "soon", "1e400"])
def test_hostile_scrape_timeout_headers_never_500(app_factory: AppFactory, header: str) -> None:
    app = app_factory({"a": StaticCollector("a")}, ["--scrape.max-timeout", "30s"])
    response = requests.get(app.url + "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": header}, timeout=10)
    assert response.status_code == 200
    assert 'test_scrape_collector_success{collector="a"} 1' in response.text


def test_deadline_capped_by_max_timeout(app_factory: AppFactory) -> None:
    app = app_factory({"a": StaticCollector("a")}, ["--scrape.max-timeout", "30s", "--scrape.timeout-offset", "0"])
    exporter = app.exporter
    assert exporter is not None
    now = time.monotonic()
    for header, budget in (("1e10", 30.0), ("inf", 30.0), ("5", 5.0), ("nan", 10.0), ("-1", 10.0)):
        deadline = exporter.deadline_for({"X-Prometheus-Scrape-Timeout-Seconds": header})
        assert deadline is not None and budget - 1 < deadline - now < budget + 1, header


class Repeating:
    """Yields the same series twice, as a buggy collector or textfile can."""

    def collect(self) -> list[Metric]:
        family = GaugeFamily("test_twice", "Twice.", labels=["k"])
        family.add_metric(["x"], 1)
        family.add_metric(["x"], 2)
        family.add_metric(["y"], 3)
        return [family]


def test_a_repeated_series_is_served_once_counted_and_logged_once(app_factory: AppFactory) -> None:
    app = app_factory({"r": Repeating()})
    first = requests.get(app.url + "/metrics", timeout=5).text
    assert 'test_twice{k="x"} 1\ntest_twice{k="y"} 3\n' in first
    second = requests.get(app.url + "/metrics", timeout=5).text
    assert 'exporters_series_dropped_total{reason="duplicate"} 1' in second
    assert app.log().count("a series was collected twice") == 1


def test_series_beyond_the_cap_are_cut(app_factory: AppFactory) -> None:
    app = app_factory({"a": StaticCollector("a")}, ["--scrape.max-series", "2"])
    text = requests.get(app.url + "/metrics", timeout=5).text
    assert len([line for line in text.splitlines() if line and not line.startswith("#")]) == 2
    again = requests.get(app.url + "/metrics", timeout=5).text
    assert "# TYPE test_a_value gauge" in again and "process_" not in again
