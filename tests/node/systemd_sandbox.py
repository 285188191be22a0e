"""A real systemd for the systemd and logind collectors' tests.

The shared ``systemd-sandbox`` tool starts systemd as PID 1 of private PID, mount and
cgroup namespaces (the host's root read-only, fresh tmpfs on /tmp, /run, ...). Commands and
exporters run inside with ``nsenter``; the network namespace is the host's, so an exporter
inside listens on the host's loopback. Stopping the sandbox kills everything in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO, missing
from tests.node.live_scrape import Scrape, scrape

# The shared tools beside the repository (as CI lays them out); EXPORTERS_SYSTEMD_SANDBOX overrides.
TOOL = Path(os.environ.get("EXPORTERS_SYSTEMD_SANDBOX") or REPO.parent / "shared" / "tools" / "systemd-sandbox")


@dataclass
class Sandbox:
    pid: int

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", "-t", str(self.pid), "-m", "-p", *argv]

    def run(self, *argv: str, input: str | None = None, check: bool = True, timeout: float = 30.0) -> str:
        done = subprocess.run(self.command(argv), input=input, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def popen(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start a process inside (stdin closed, output to a pipe); it dies with the sandbox."""
        return subprocess.Popen(self.command(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)

    def scrape(self, argv: Sequence[str], prefix: str) -> Scrape:
        """Run an exporter inside with ``argv`` and scrape it once (see ``live_scrape``)."""
        return scrape(argv, prefix, self.popen)

    def host_path(self, inside: str) -> str:
        """A path inside the sandbox, as the host reaches it (through /proc/PID/root)."""
        return f"/proc/{self.pid}/root{inside}"

    def add_units(self, units: dict[str, str]) -> None:
        """Write unit files to /run/systemd/system inside and reload systemd."""
        for name, text in units.items():
            self.run("sh", "-c", f"cat > /run/systemd/system/{name}", input=text)
        self.run("systemctl", "daemon-reload")


@contextmanager
def systemd_sandbox() -> Iterator[Sandbox]:
    """A running sandboxed systemd, stopped on exit; skipped (failed in CI) where it cannot run."""
    if os.geteuid() != 0 or not os.access(TOOL, os.X_OK) or shutil.which("nsenter") is None:
        missing(f"systemd sandbox ({TOOL}, root, nsenter)")
    started = subprocess.run([str(TOOL), "start"], capture_output=True, text=True, timeout=60, check=False)
    if started.returncode != 0 or not started.stdout.strip().isdigit():
        missing(f"systemd sandbox ({started.stderr.strip()})")
    sandbox = Sandbox(int(started.stdout.strip()))
    try:
        yield sandbox
    finally:
        subprocess.run([str(TOOL), "stop", str(sandbox.pid)], capture_output=True, timeout=30, check=False)
