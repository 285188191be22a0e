"""A busier host, made inside a network and mount namespace of the benchmark's own.

The parent runs ``unshare -n -m python -m bench host-worker ...``; the worker adds links and
tmpfs mounts that only it (and the exporters it starts) can see, compares the node exporters
there and writes its figures as JSON. Everything disappears with the namespace.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import ExporterUnavailable, compare
from bench.scenarios import comparison_row
from bench.targets import GoBinary, make_pair

log = logging.getLogger("bench")

# Link types tried in order: dummy is the natural one, but a kernel may lack it.
LINK_TYPES = ("dummy", "ifb", "bridge")
COMMAND_TIMEOUT = 60


def _run(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


def add_links(count: int) -> str:
    """``count`` extra links, up, named bench0..; returns the link type used."""
    _run(["ip", "link", "set", "lo", "up"]).check_returncode()
    if count == 0:
        return "none"
    errors = []
    for kind in LINK_TYPES:
        probe = _run(["ip", "link", "add", "benchprobe", "type", kind])
        if probe.returncode != 0:
            errors.append(f"{kind}: {probe.stderr.strip()}")
            continue
        _run(["ip", "link", "del", "benchprobe"]).check_returncode()
        script = "".join(f"link add bench{i} type {kind}\nlink set bench{i} up\n" for i in range(count))
        done = _run(["ip", "-batch", "-"], stdin=script)
        if done.returncode != 0:
            raise ExporterUnavailable(f"adding {count} {kind} links failed: {done.stderr.strip()[:200]}")
        return kind
    raise ExporterUnavailable("no virtual link type works here: " + "; ".join(errors))


def add_mounts(base: Path, count: int) -> None:
    """A tmpfs on ``base`` holding ``count`` more tmpfs mounts."""
    _run(["mount", "-t", "tmpfs", "-o", "size=1m", "benchbase", str(base)]).check_returncode()
    for i in range(count):
        point = base / f"m{i}"
        point.mkdir()
        result = _run(["mount", "-t", "tmpfs", "-o", "size=1m", f"bench{i}", str(point)])
        if result.returncode != 0:
            raise ExporterUnavailable(f"mounting tmpfs on {point} failed: {result.stderr.strip()}")


def remount_sysfs() -> None:
    """sysfs shows the links of the namespace that mounted it, so mount one of our own."""
    _run(["mount", "-t", "sysfs", "sysfs", "/sys"]).check_returncode()


def worker(links: int, mounts: int, base: Path, scrapes: int, warmup: int, log_dir: Path,
           go: Sequence[GoBinary], ours_extra: Sequence[str] = ()) -> dict[str, Any]:
    """Runs inside the namespaces: set up, compare, return the result row."""
    kind = add_links(links)
    remount_sysfs()
    add_mounts(base, mounts)
    with open("/proc/net/dev") as f:
        visible_links = max(0, len(f.read().splitlines()) - 2)
    with open("/proc/self/mounts") as f:
        visible_mounts = len(f.read().splitlines())
    pair = make_pair("node", ours_extra=ours_extra, go=go)
    sides = compare(pair.launches, log_dir, scrapes, warmup)
    extra = {"link_type": kind, "links_visible": visible_links, "mounts_visible": visible_mounts}
    return comparison_row("host", pair, {"links": links, "mounts": mounts}, sides, extra)


def run_in_namespace(links: int, mounts: int, scrapes: int, warmup: int, log_dir: Path,
                     go: Sequence[GoBinary], ours_extra: Sequence[str] = ()) -> dict[str, Any]:
    """Start the worker under ``unshare -n -m`` and return its figures."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise ExporterUnavailable("unshare (util-linux) is not installed")
    if os.geteuid() != 0:
        raise ExporterUnavailable("the host scenario needs root for network and mount namespaces")
    base = Path(tempfile.mkdtemp(prefix="exporters-bench-mnt-"))
    out = base.with_suffix(".json")
    try:
        argv = [
            unshare, "-n", "-m", "--propagation", "private", "--",
            sys.executable, "-m", "bench", "host-worker",
            "--links", str(links), "--mounts", str(mounts), "--base", str(base),
            "--scrapes", str(scrapes), "--warmup", str(warmup), "--log-dir", str(log_dir), "--out", str(out),
            *(f"--go={binary.column}={binary.path}" for binary in go),
            *(f"--ours-arg={arg}" for arg in ours_extra),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=1800,
                              cwd=Path(__file__).resolve().parent.parent)
        if done.returncode != 0 or not out.exists():
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise ExporterUnavailable(f"host worker failed (exit {done.returncode}): {tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result
    finally:
        out.unlink(missing_ok=True)
        # Inside the namespace ``base`` carried a tmpfs; out here it is an empty directory.
        shutil.rmtree(base, ignore_errors=True)
