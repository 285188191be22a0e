"""The serving layer side by side with Go: start-up, idle cost, connection floods, connect bursts, RSS.

For each exporter and each column (Go's, ours), one process:

* ``first_good_ms``: spawn to the first good scrape;
* ``idle_wakeups_per_s`` and ``idle_cpu_ms_per_min``: context switches of all its threads and
  CPU while nobody talks to it;
* ``steady_rss_mib``: RSS after ``steady`` back-to-back scrapes on one connection;
* during ``flood`` idle and ``flood`` trickling connections (a header byte a second):
  ``flood_p50_ms``/``flood_p99_ms`` of normal scrapes and how many connections it held;
  after they close, ``after_rss_delta_mib`` and ``after_threads_delta`` against the steady state;
* ``burst`` clients connecting at once, one scrape each: ``burst_p50_ms``/``burst_p99_ms``/
  ``burst_max_ms`` and the kernel's listen-queue overflows meanwhile (TcpExt ListenOverflows).

Wall-clock figures mean something only on a quiet machine: run it alone
(``python -m bench --scenarios serving``; ``--quick`` for a smoke run).
"""

from __future__ import annotations

import logging
import os
import resource
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from bench.client import Scraper
from bench.harness import ExporterUnavailable, RunningExporter, percentile
from bench.scenarios import Options, Row, Scenario, Size, environment, guarded, ints, load_ratios

log = logging.getLogger("bench")

FIGURES = ("first_good_ms", "idle_wakeups_per_s", "idle_cpu_ms_per_min", "steady_rss_mib", "flood_p50_ms",
           "flood_p99_ms", "flood_held", "after_rss_delta_mib", "after_threads_delta", "burst_p50_ms",
           "burst_p99_ms", "burst_max_ms", "burst_listen_overflows")
IDLE_SECONDS = 10.0


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _switches(pid: int) -> int:
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as handle:
                for line in handle:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            continue  # a thread that just ended
    return total


def _listen_overflows() -> int:
    with open("/proc/net/netstat") as handle:
        lines = handle.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=False)).get("ListenOverflows", 0))
    return 0


def _flood(port: int, count: int, stop: threading.Event, held: list[int]) -> None:
    """``count`` idle connections and ``count`` that send a header byte a second, until ``stop``."""
    idle: list[socket.socket] = []
    trickling: list[socket.socket] = []
    for i in range(2 * count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            continue
        sock.setblocking(False)
        if i % 2:
            try:
                sock.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            except OSError:
                pass
            trickling.append(sock)
        else:
            idle.append(sock)
    selector = selectors.DefaultSelector()
    for sock in idle + trickling:
        selector.register(sock, selectors.EVENT_READ)
    open_socks = set(idle + trickling)
    while not stop.is_set():
        for sock in list(trickling):
            try:
                sock.send(b"a")
            except OSError:
                trickling.remove(sock)
        for key, _ in selector.select(1.0):
            sock = key.fileobj  # type: ignore[assignment]
            try:
                if sock.recv(4096) == b"":
                    raise OSError
            except BlockingIOError:
                continue
            except OSError:
                selector.unregister(sock)
                open_socks.discard(sock)
                if sock in trickling:
                    trickling.remove(sock)
                sock.close()
        held.append(len(open_socks))
    for sock in open_socks:
        sock.close()
    selector.close()


def _burst(port: int, clients: int, timeout: float) -> list[float]:
    barrier = threading.Barrier(clients)
    seconds: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        barrier.wait()
        begin = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while sock.recv(65536):
                    pass
        except OSError:
            return
        with lock:
            seconds.append(time.perf_counter() - begin)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 30)
    return seconds


def measure(running: RunningExporter, opts: Options, flood: int, burst: int, steady: int) -> dict[str, Any]:
    pid = running.pid
    port = running.launch.port
    out: dict[str, Any] = {"column": running.launch.column, "label": running.launch.label}
    out["first_good_ms"] = 1000 * running.wait_first_good(opts.start_timeout)
    time.sleep(1.0)
    cpu, switches = running.sample().cpu_seconds, _switches(pid)
    time.sleep(IDLE_SECONDS)
    out["idle_wakeups_per_s"] = (_switches(pid) - switches) / IDLE_SECONDS
    out["idle_cpu_ms_per_min"] = (running.sample().cpu_seconds - cpu) * 1000 * 60 / IDLE_SECONDS
    scraper = Scraper("127.0.0.1", port, timeout=opts.scrape_timeout)
    for _ in range(steady):
        scraper.scrape()
    steady_rss, steady_threads = running.sample().rss_bytes, _threads(pid)
    out["steady_rss_mib"] = steady_rss / 2**20
    stop = threading.Event()
    held: list[int] = []
    flooder = threading.Thread(target=_flood, args=(port, flood, stop, held), daemon=True)
    flooder.start()
    time.sleep(min(10.0, 1.0 + flood / 500))
    latencies = [r.seconds for r in (scraper.scrape() for _ in range(20)) if r.ok]
    out["flood_p50_ms"] = 1000 * percentile(latencies, 50) if latencies else float("nan")
    out["flood_p99_ms"] = 1000 * percentile(latencies, 99) if latencies else float("nan")
    out["flood_held"] = held[-1] if held else 0
    stop.set()
    flooder.join(30)
    time.sleep(5.0)
    for _ in range(10):
        scraper.scrape()
    out["after_rss_delta_mib"] = (running.sample().rss_bytes - steady_rss) / 2**20
    out["after_threads_delta"] = _threads(pid) - steady_threads
    scraper.close()
    overflows = _listen_overflows()
    seconds = _burst(port, burst, opts.scrape_timeout)
    out["burst_listen_overflows"] = _listen_overflows() - overflows
    out["burst_answered"] = len(seconds)
    for name, q in (("burst_p50_ms", 50), ("burst_p99_ms", 99), ("burst_max_ms", 100)):
        out[name] = 1000 * percentile(seconds, q) if seconds else float("nan")
    return out


def run(opts: Options) -> Iterator[Row]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the flood's sockets
    flood, burst, steady = opts.size("flood")[0], opts.size("burst")[0], opts.size("steady")[0]
    size = {"name": "connections", "value": flood}
    for exporter in opts.exporters:

        def one(exporter: str = exporter) -> Row:
            with environment(exporter, opts) as (args, env):
                pair = opts.pair(exporter, args, env)
                sides: list[dict[str, Any]] = []
                for launch in pair.launches:
                    running = RunningExporter(launch, opts.log_dir, opts.scrape_timeout)
                    try:
                        sides.append(measure(running, opts, flood, burst, steady))
                    except ExporterUnavailable as err:
                        if not launch.optional:
                            raise
                        sides.append({"column": launch.column, "first_error": str(err)})
                    finally:
                        running.stop()
                go, ours, *more = sides

                def ratio(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
                    return {k: (float(a[k]) / float(b[k]) if b.get(k) else float("nan"))
                            for k in FIGURES if k in a and k in b}

                return {"scenario": "serving", "exporter": exporter, "size": size, "go": go, "ours": ours,
                        "ratio": ratio(ours, go), "more_go": {s["column"]: s for s in more},
                        "more_ratio": {s["column"]: ratio(ours, s) for s in more if "first_error" not in s}}

        yield guarded("serving", exporter, size, one)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


SCENARIO = Scenario(
    name="serving", title="Serving layer: start-up, idle, floods, connect bursts, RSS", run=run,
    layout="serving", order=45, default=False,
    sizes={"flood": Size("2000", "2000", "200", ints, "idle connections, and as many trickling ones"),
           "burst": Size("200", "200", "50", ints, "clients connecting at once"),
           "steady": Size("2000", "2000", "200", ints, "scrapes before the steady RSS is read")},
)

__all__ = ["FIGURES", "SCENARIO", "load_ratios"]
