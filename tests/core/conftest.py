"""An in-process exporter with collectors the test controls, served on a free port."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporters.core.app import Exporter, Runtime, run
from exporters.core.collector import Collector
from exporters.core.flags import ArgumentParser, add_web_flags
from exporters.core.logs import LogfmtFormatter
from exporters.core.runner import CollectorRunner
from exporters.core.settings import LogSettings, WebSettings
from exporters.node.main import NodeMetrics
from tests.conftest import free_port, wait_http


class StaticCollector:
    """Yields one gauge and one counter."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    def collect(self) -> Iterable[Metric]:
        self.calls += 1
        gauge = GaugeMetricFamily(f"test_{self.name}_value", "A test gauge.", labels=["kind"])
        gauge.add_metric(["a"], 1.5)
        counter = CounterMetricFamily(f"test_{self.name}_events", "A test counter.")
        counter.add_metric([], 42)
        return [gauge, counter]


class SleepingCollector:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def collect(self) -> Iterable[Metric]:
        self.calls += 1
        time.sleep(self.seconds)
        gauge = GaugeMetricFamily("test_sleepy_value", "Set after sleeping.")
        gauge.add_metric([], 1)
        return [gauge]


class RaisingCollector:
    def collect(self) -> Iterable[Metric]:
        raise RuntimeError("disk on fire")


@dataclass(frozen=True)
class TestSettings:
    web: WebSettings
    log: LogSettings


class App:
    def __init__(self, exporter: Exporter | None, port: int, stop: threading.Event, thread: threading.Thread,
                 log_path: Path, scheme: str) -> None:
        self.exporter = exporter
        self.port = port
        self.stop = stop
        self.thread = thread
        self.log_path = log_path
        self.url = f"{scheme}://127.0.0.1:{port}"

    def log(self) -> str:
        return self.log_path.read_text()


def start_app(
    collectors: dict[str, Collector],
    tmp_path: Path,
    argv: Sequence[str] = (),
    scheme: str = "http",
    ready: Callable[[str], None] | None = None,
    probe: bool = False,
) -> App:
    parser = ArgumentParser(prog="test_exporter")
    add_web_flags(parser, ":0")
    port = free_port()
    args = parser.parse_args(["--web.listen-address", f"127.0.0.1:{port}", *argv])
    log_path = tmp_path / f"app-{port}.log"
    built: list[Exporter] = []

    def make_app(settings: TestSettings, runtime: Runtime) -> Exporter:
        logger = logging_to(runtime.logger, log_path)
        runner = CollectorRunner("test", collectors, logger)
        app = Exporter(
            name="test", upstream="test_exporter", title="Test Exporter", web=settings.web, runtime=runtime,
            metrics=NodeMetrics(runner),
            # a multi-target endpoint serving the same collectors, as postgres /probe or redis /scrape
            metrics_routes={"/probe": NodeMetrics(runner)} if probe else None,
            on_close=[runner.close],
        )
        built.append(app)
        return app

    stop = threading.Event()
    result: list[int] = []
    settings = TestSettings(WebSettings.from_args(args), LogSettings.from_args(args))
    thread = threading.Thread(
        target=lambda: result.append(run("test_exporter", "test", lambda: settings, make_app, stop)), daemon=True
    )
    thread.start()
    if scheme == "http":
        wait_http(f"http://127.0.0.1:{port}/")
    elif ready is not None:
        ready(f"{scheme}://127.0.0.1:{port}/")
    return App(built[0] if built else None, port, stop, thread, log_path, scheme)


def logging_to(logger: logging.Logger, path: Path) -> logging.Logger:
    handler = logging.FileHandler(path)
    handler.setFormatter(LogfmtFormatter())
    logger.addHandler(handler)
    return logger


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def factory(collectors: dict[str, Collector], argv: Sequence[str] = (), **kwargs: object) -> App:
        app = start_app(collectors, tmp_path, argv, **kwargs)  # type: ignore[arg-type]
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.stop.set()
        app.thread.join(15)
