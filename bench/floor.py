"""The floor under our postgres exporter: a Python process that only imports psycopg and connects.

psycopg's import (with the modules it pulls in: asyncio, ssl, email, ...) and one connection
set a resident size and a start time that no exporter built on it can go below; the report
gives them beside ours, so "RSS above the floor" and "start spent in psycopg" can be judged.
The same interpreter and the same server as the exporter under test, measured in a fresh process.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.harness import REPO

# Runs in the child: times psycopg's import and the connection, then reads its own VmRSS/VmHWM
# (kernel accounting, as the exporters are measured) while the connection is open.
_CHILD = """
import json, sys, time
started = time.perf_counter()
import psycopg
imported = time.perf_counter()
with psycopg.connect(sys.argv[1], connect_timeout=5) as conn:
    conn.execute("SELECT 1").fetchall()
    connected = time.perf_counter()
    memory = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                memory[key] = int(value.split()[0]) * 1024
print(json.dumps({"rss_bytes": memory.get("VmRSS", 0), "peak_rss_bytes": memory.get("VmHWM", 0),
                  "import_seconds": imported - started, "connect_seconds": connected - imported,
                  "connected_at": time.monotonic()}))
"""


def psycopg_floor(dsn: str, runs: int = 3, timeout: float = 30.0) -> dict[str, Any]:
    """Median figures of ``runs`` fresh processes that import psycopg and connect to ``dsn``;
    ``{"error": ...}`` when it cannot be measured (the comparison still stands without it)."""
    samples = []
    for _ in range(runs):
        spawned = time.monotonic()  # CLOCK_MONOTONIC is one clock for every process of the machine
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD, dsn], capture_output=True, text=True,
                                  timeout=timeout, cwd=REPO, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"error": f"no answer within {timeout:g}s"}
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            return {"error": lines[-1][:200] if lines else f"exit code {done.returncode}"}
        sample = json.loads(done.stdout)
        # process start (interpreter, site) to connected: what the exporter's start figure counts
        sample["start_seconds"] = sample.pop("connected_at") - spawned
        samples.append(sample)
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]} | {"runs": runs}
