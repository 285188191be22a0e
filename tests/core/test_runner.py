"""The collector runner: one worker per scrape, helpers past a stalled collector, the deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pytest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from exporters.core.exposition import render_text
from exporters.core.runner import STALL_SECONDS, CollectorRunner


class ThreadRecorder:
    """Records the thread each call ran in."""

    def __init__(self, name: str, threads: list[int]) -> None:
        self.name = name
        self.threads = threads

    def collect(self) -> Iterable[Metric]:
        self.threads.append(threading.get_ident())
        return [GaugeMetricFamily(f"test_{self.name}", "A test gauge.", value=1)]


class Blocking:
    """Blocks until released; counts its calls."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.calls = 0

    def collect(self) -> Iterable[Metric]:
        self.calls += 1
        self.release.wait(30)
        return [GaugeMetricFamily("test_blocking", "Released.", value=1)]


def success(metrics: list[Metric]) -> dict[str, float]:
    family = next(m for m in metrics if m.name == "test_scrape_collector_success")
    return {s.labels["collector"]: s.value for s in family.samples}


def test_a_scrape_runs_its_collectors_in_one_worker_thread() -> None:
    threads: list[int] = []
    runner = CollectorRunner("test", {f"c{i}": ThreadRecorder(f"c{i}", threads) for i in range(20)})
    try:
        for _ in range(3):
            threads.clear()
            metrics = runner.collect(time.monotonic() + 5)
            assert len(threads) == 20
            assert len(set(threads)) == 1
            assert threading.get_ident() not in threads
            assert set(success(metrics).values()) == {1.0}
        text = render_text(runner.collect()).decode()
        assert text.count("test_scrape_collector_success{") == 20
    finally:
        runner.close()


@pytest.mark.timeout(20)
def test_a_hung_collector_costs_only_its_own_metrics() -> None:
    release = threading.Event()
    threads: list[int] = []
    hung = Blocking(release)
    collectors = {"a": ThreadRecorder("a", threads), "hung": hung, "b": ThreadRecorder("b", threads),
                  "c": ThreadRecorder("c", threads)}
    runner = CollectorRunner("test", collectors)
    try:
        begin = time.monotonic()
        first = runner.collect(begin + 1.5)
        elapsed = time.monotonic() - begin
        # b and c come after the hung one in the batch: a helper ran them
        assert success(first) == {"a": 1.0, "hung": 0.0, "b": 1.0, "c": 1.0}
        assert 1.0 < elapsed < 3.0
        assert any(m.name == "test_b" for m in first)
        # the next scrape shares the call still in flight instead of starting another
        second = runner.collect(time.monotonic() + 2 * STALL_SECONDS + 0.3)
        assert success(second) == {"a": 1.0, "hung": 0.0, "b": 1.0, "c": 1.0}
        assert hung.calls == 1
        release.set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and success(runner.collect(time.monotonic() + 5)) != dict.fromkeys(
            collectors, 1.0
        ):
            time.sleep(0.05)
        assert success(runner.collect(time.monotonic() + 5)) == dict.fromkeys(collectors, 1.0)
    finally:
        release.set()
        runner.close()


@pytest.mark.timeout(20)
def test_sequential_runner_does_not_start_collectors_after_the_deadline() -> None:
    release = threading.Event()
    threads: list[int] = []
    runner = CollectorRunner("test", {"hung": Blocking(release), "late": ThreadRecorder("late", threads)},
                             parallel=False)
    try:
        begin = time.monotonic()
        metrics = runner.collect(begin + 0.5)
        assert time.monotonic() - begin < 2.0
        assert success(metrics) == {"hung": 0.0, "late": 0.0}
        release.set()
        time.sleep(0.2)
        assert threads == []  # "late" was never started: the deadline had passed
    finally:
        release.set()
        runner.close()


@pytest.mark.timeout(30)
def test_a_collector_that_never_returns_does_not_keep_the_process_alive() -> None:
    import subprocess
    import sys

    code = (
        "import threading, time\n"
        "from exporters.core.runner import CollectorRunner\n"
        "class Hung:\n"
        "    def collect(self):\n"
        "        threading.Event().wait()\n"
        "        return []\n"
        "runner = CollectorRunner('test', {'hung': Hung()})\n"
        "runner.collect(time.monotonic() + 0.3)\n"
        "runner.close()\n"
        "print('returned')\n"
    )
    begin = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "returned"
    assert time.monotonic() - begin < 15


def test_daemon_pool_reuses_idle_workers() -> None:
    from exporters.core.batch import DaemonPool

    pool = DaemonPool("test")
    finished = threading.Event()
    try:
        for _ in range(5):
            finished.clear()
            pool.submit(finished.set)
            assert finished.wait(5)
            end = time.monotonic() + 10
            while pool.idle != 1:  # the worker counts itself idle after the call returns
                assert time.monotonic() < end
                time.sleep(0.005)
        assert pool.started == 1
    finally:
        pool.close()
    with pytest.raises(RuntimeError):
        pool.submit(print)
