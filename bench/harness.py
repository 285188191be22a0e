"""Start exporters side by side, scrape them in turn, and measure each the same way."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.client import Scraper
from bench.procstat import ProcSample, read_proc_sample

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parent.parent


class ExporterUnavailable(Exception):
    """The exporter did not reach a good scrape; the scenario is skipped with this message."""


@dataclass
class Launch:
    """How to start one exporter listening on ``port`` of 127.0.0.1."""

    label: str
    argv: list[str]
    port: int
    good: Callable[[bytes], bool]
    env: dict[str, str] = field(default_factory=dict)
    # Metric names whose samples are copied into the result, to check both did the same work.
    watch: tuple[str, ...] = ()
    # What this is in the report: "ours", or the Go binary's generation ("trixie", "bookworm", "custom").
    column: str = ""
    # An extra column: if it does not start, the comparison goes on without it.
    optional: bool = False


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of ``values``; nan when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class RunningExporter:
    """One started exporter process with its log file."""

    def __init__(self, launch: Launch, log_dir: Path, timeout: float = 10.0) -> None:
        self.launch = launch
        self.log_path = log_dir / f"{launch.label}-{launch.port}.log"
        env = dict(os.environ)
        env.update(launch.env)
        with self.log_path.open("wb") as out:
            self.started = time.perf_counter()
            self.proc = subprocess.Popen(
                launch.argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                stdin=subprocess.DEVNULL,
            )
        self.scraper = Scraper("127.0.0.1", launch.port, timeout=timeout)
        self.first_good_seconds = math.nan

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def wait_first_good(self, timeout: float) -> float:
        """Seconds from process start to the first 200 whose body passes ``good``."""
        end = self.started + timeout
        last = "no answer"
        while time.perf_counter() < end:
            if self.proc.poll() is not None:
                raise ExporterUnavailable(
                    f"{self.launch.label} exited with {self.proc.returncode} before a good scrape: {self.log_tail()}"
                )
            result = self.scraper.scrape(keep_body=True)
            if result.ok and self.launch.good(result.body):
                self.first_good_seconds = time.perf_counter() - self.started
                return self.first_good_seconds
            last = result.error or f"HTTP {result.status}, body not good yet"
            time.sleep(0.01 if result.error else 0.05)
        raise ExporterUnavailable(f"{self.launch.label} gave no good scrape within {timeout:g}s ({last}): "
                                  f"{self.log_tail()}")

    def sample(self) -> ProcSample:
        return read_proc_sample(self.pid)

    def stop(self) -> None:
        self.scraper.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class SideResult:
    """The figures of one exporter in one comparison."""

    label: str
    column: str = ""
    scrapes: int = 0
    errors: int = 0
    p50_seconds: float = math.nan
    p99_seconds: float = math.nan
    max_seconds: float = math.nan
    cpu_seconds_per_scrape: float = math.nan
    peak_rss_bytes: int = 0
    steady_rss_bytes: int = 0
    wire_bytes: int = 0
    body_bytes: int = 0
    series: int = 0
    content_type: str = ""
    start_seconds: float = math.nan
    over_deadline: int = 0
    first_error: str = ""
    watched: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def watched_samples(body: bytes, names: Sequence[str]) -> dict[str, str]:
    """``series -> value`` for the samples of ``names`` in an exposition body."""
    out: dict[str, str] = {}
    if not names:
        return out
    prefixes = tuple(n.encode() for n in names)
    for line in body.splitlines():
        if line.startswith(prefixes):
            series, _, value = line.decode("utf-8", "replace").rpartition(" ")
            out[series] = value
    return out


# Figures compared as ours / Go, with the unit the report shows them in.
COMPARED_FIGURES: list[tuple[str, str]] = [
    ("p50_seconds", "s"),
    ("p99_seconds", "s"),
    ("cpu_seconds_per_scrape", "s"),
    ("peak_rss_bytes", "B"),
    ("steady_rss_bytes", "B"),
    ("wire_bytes", "B"),
    ("body_bytes", "B"),
    ("start_seconds", "s"),
]


def ratios(go: SideResult, ours: SideResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, _unit in COMPARED_FIGURES:
        a = float(getattr(ours, name))
        b = float(getattr(go, name))
        out[name] = a / b if b and not math.isnan(b) and not math.isnan(a) else math.nan
    return out


def count_series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


@dataclass
class _Accumulator:
    latencies: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    wire: list[int] = field(default_factory=list)
    body: list[int] = field(default_factory=list)
    content_type: str = ""
    series: int = 0
    watched: dict[str, str] = field(default_factory=dict)


def compare(
    launches: Sequence[Launch],
    log_dir: Path,
    scrapes: int,
    warmup: int = 2,
    start_timeout: float = 30.0,
    scrape_timeout: float = 10.0,
) -> list[SideResult]:
    """Start each, then scrape A B C A B C ... ``scrapes`` times each; all are stopped after.

    Each exporter is brought to its first good scrape before the next is started, so that no
    start-up competes with another for the CPU. An optional launch that does not start gets a
    result with no scrapes and the reason in ``first_error``; any other raises ExporterUnavailable.
    """
    running: list[RunningExporter] = []
    failed: dict[int, str] = {}
    try:
        for index, launch in enumerate(launches):
            proc = RunningExporter(launch, log_dir, scrape_timeout)
            running.append(proc)
            try:
                proc.wait_first_good(start_timeout)
            except ExporterUnavailable as err:
                if not launch.optional:
                    raise
                log.warning("%s left out: %s", launch.label, err)
                running.remove(proc)
                proc.stop()
                failed[index] = f"did not start: {err}"
        for _ in range(warmup):
            for proc in running:
                proc.scraper.scrape()
        acc = [_Accumulator() for _ in running]
        before = [proc.sample() for proc in running]
        for i in range(scrapes):
            for proc, a in zip(running, acc, strict=True):
                keep = i == scrapes - 1
                result = proc.scraper.scrape(keep_body=keep)
                a.latencies.append(result.seconds)
                if not (result.ok and (not keep or proc.launch.good(result.body))):
                    a.errors += 1
                    a.first_error = a.first_error or result.error or "body not good"
                a.wire.append(result.wire_bytes)
                a.body.append(result.body_bytes)
                a.content_type = result.content_type or a.content_type
                if keep:
                    a.series = count_series(result.body)
                    a.watched = watched_samples(result.body, proc.launch.watch)
                a.rss.append(proc.sample().rss_bytes)
        after = [proc.sample() for proc in running]
        sides = {}
        for proc, a, b0, b1 in zip(running, acc, before, after, strict=True):
            sides[proc.launch.label] = SideResult(
                label=proc.launch.label,
                column=proc.launch.column,
                scrapes=scrapes,
                errors=a.errors,
                p50_seconds=percentile(a.latencies, 50),
                p99_seconds=percentile(a.latencies, 99),
                max_seconds=max(a.latencies) if a.latencies else math.nan,
                cpu_seconds_per_scrape=(b1.cpu_seconds - b0.cpu_seconds) / scrapes if scrapes else math.nan,
                peak_rss_bytes=b1.hwm_bytes,
                steady_rss_bytes=int(percentile([float(r) for r in a.rss], 50)) if a.rss else b1.rss_bytes,
                wire_bytes=int(percentile([float(w) for w in a.wire], 50)) if a.wire else 0,
                body_bytes=int(percentile([float(w) for w in a.body], 50)) if a.body else 0,
                series=a.series,
                content_type=a.content_type,
                start_seconds=proc.first_good_seconds,
                over_deadline=sum(1 for t in a.latencies if t > scrape_timeout),
                first_error=a.first_error,
                watched=a.watched,
            )
        return [sides.get(launch.label) or SideResult(label=launch.label, column=launch.column,
                                                      first_error=failed[index])
                for index, launch in enumerate(launches)]
    finally:
        for proc in running:
            proc.stop()


@dataclass
class ConcurrencyResult:
    label: str
    workers: int
    duration_seconds: float
    column: str = ""
    scrapes: int = 0
    errors: int = 0
    throughput_per_second: float = math.nan
    p50_seconds: float = math.nan
    p99_seconds: float = math.nan
    cpu_seconds_per_scrape: float = math.nan
    peak_rss_bytes: int = 0
    first_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def concurrent_load(
    launch: Launch,
    log_dir: Path,
    workers: int,
    duration: float,
    start_timeout: float = 30.0,
    scrape_timeout: float = 10.0,
) -> ConcurrencyResult:
    """``workers`` scrapers, each on its own connection, back to back for ``duration`` seconds."""
    proc = RunningExporter(launch, log_dir, scrape_timeout)
    try:
        proc.wait_first_good(start_timeout)
        proc.scraper.scrape()
        latencies: list[list[float]] = [[] for _ in range(workers)]
        errors = [0] * workers
        first_error: list[str] = [""] * workers
        stop_at = time.perf_counter() + duration

        def work(index: int) -> None:
            scraper = Scraper("127.0.0.1", launch.port, timeout=scrape_timeout)
            try:
                while time.perf_counter() < stop_at:
                    # The body is not decompressed: the client's CPU is the exporters' CPU here.
                    result = scraper.scrape(decode=False)
                    latencies[index].append(result.seconds)
                    if not result.ok:
                        errors[index] += 1
                        first_error[index] = first_error[index] or result.error
            finally:
                scraper.close()

        before = proc.sample()
        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(duration + scrape_timeout + 5)
        elapsed = time.perf_counter() - started
        after = proc.sample()
        flat = [t for per in latencies for t in per]
        return ConcurrencyResult(
            label=launch.label,
            column=launch.column,
            workers=workers,
            duration_seconds=elapsed,
            scrapes=len(flat),
            errors=sum(errors),
            throughput_per_second=len(flat) / elapsed if elapsed > 0 else math.nan,
            p50_seconds=percentile(flat, 50),
            p99_seconds=percentile(flat, 99),
            cpu_seconds_per_scrape=(after.cpu_seconds - before.cpu_seconds) / len(flat) if flat else math.nan,
            peak_rss_bytes=after.hwm_bytes,
            first_error=next((e for e in first_error if e), ""),
        )
    finally:
        proc.stop()
