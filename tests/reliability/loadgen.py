"""Concurrent scrapers and an RSS sampler, shared by the load test and ``load_full.py``."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil

TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"


@dataclass
class LoadResult:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # of 200 answers, seconds
    errors: Counter[str] = field(default_factory=Counter)  # connection-level failures
    rss_samples: list[tuple[int, int]] = field(default_factory=list)  # (scrapes done, RSS bytes)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def rss_growth(self, warmup_fraction: float = 0.2) -> int:
        """RSS at the end minus RSS once ``warmup_fraction`` of the scrapes were done."""
        if len(self.rss_samples) < 2:
            return 0
        done_total = self.rss_samples[-1][0]
        warm = next((rss for done, rss in self.rss_samples if done >= done_total * warmup_fraction),
                    self.rss_samples[0][1])
        return self.rss_samples[-1][1] - warm

    def summary(self) -> dict[str, object]:
        return {
            "scrapes": self.total,
            "per_second": round(self.total / self.seconds, 1) if self.seconds else 0.0,
            "statuses": dict(sorted(self.statuses.items())),
            "errors": dict(self.errors),
            "p50_ms": round(self.percentile(0.50) * 1000, 1),
            "p99_ms": round(self.percentile(0.99) * 1000, 1),
            "max_ms": round(max(self.latencies, default=0.0) * 1000, 1),
            "rss_start_mb": round(self.rss_samples[0][1] / 2**20, 1) if self.rss_samples else None,
            "rss_end_mb": round(self.rss_samples[-1][1] / 2**20, 1) if self.rss_samples else None,
            "rss_growth_after_warmup_mb": round(self.rss_growth() / 2**20, 2),
        }


def run_load(url: str, pid: int, concurrency: int, duration: float | None = None, scrapes: int | None = None,
             scrape_timeout: float = 10.0, rss_every: float = 0.5, backoff_503: float = 0.0) -> LoadResult:
    """``concurrency`` keep-alive scrapers until ``duration`` seconds or ``scrapes`` answers in total.

    ``backoff_503``: how long a scraper waits after a 503 before asking again (0: at once).
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/metrics"
    result = LoadResult()
    lock = threading.Lock()
    stop = threading.Event()
    process = psutil.Process(pid)
    began = time.monotonic()

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=scrape_timeout + 30)
        while not stop.is_set():
            start = time.monotonic()
            try:
                conn.request("GET", path, headers={TIMEOUT_HEADER: f"{scrape_timeout:g}"})
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                with lock:
                    result.errors[type(err).__name__] += 1
                continue
            elapsed = time.monotonic() - start
            with lock:
                result.statuses[status] += 1
                if status == 200:
                    result.latencies.append(elapsed)
                if scrapes is not None and result.total >= scrapes:
                    stop.set()
            if status == 503 and backoff_503 > 0:
                stop.wait(backoff_503)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    end = None if duration is None else began + duration
    while not stop.is_set():
        with lock:
            done = result.total
        try:
            result.rss_samples.append((done, process.memory_info().rss))
        except psutil.Error:
            break
        if end is not None and time.monotonic() >= end:
            break
        stop.wait(rss_every)
    stop.set()
    for thread in threads:
        thread.join(scrape_timeout + 35)
    result.seconds = time.monotonic() - began
    try:
        result.rss_samples.append((result.total, process.memory_info().rss))
    except psutil.Error:
        pass
    return result
