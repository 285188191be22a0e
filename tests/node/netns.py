"""A network namespace made for a test: links, addresses, routes, qdiscs, and processes inside it.

``ip netns exec`` also gives each process a /sys of the namespace, so the exporters inside
see its devices in /sys/class/net as well as over netlink. Everything stays in the
namespace; deleting it removes its links.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO, missing

SCRAPE = ("import sys, urllib.request\n"
          "with urllib.request.urlopen(sys.argv[1], timeout=10) as r: sys.stdout.write(r.read().decode())\n")


class Namespace:
    def __init__(self, name: str) -> None:
        self.name = name
        self.processes: list[subprocess.Popen[bytes]] = []

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command inside the namespace (``ip``/``tc`` are given as the command itself)."""
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True,
                              check=check, timeout=30)

    def script(self, *commands: str) -> None:
        """``ip``/``tc`` command lines, each failing the setup if the kernel refuses it."""
        for line in commands:
            result = self.run(*line.split(), check=False)
            if result.returncode:
                raise RuntimeError(f"{line}: {result.stderr.strip()}")

    def start(self, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdout=out, stderr=subprocess.STDOUT,
                                    cwd=REPO)
        self.processes.append(proc)
        return proc

    def wait_for_line(self, log: Path, line: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
        """Wait until a process started with ``start`` has written ``line`` to its log."""
        end = time.monotonic() + timeout
        while line not in log.read_text(errors="replace").splitlines():
            if proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"no {line!r} from {proc.args}: {log.read_text(errors='replace')[-500:]}")
            time.sleep(0.1)

    def python(self, code: str, *args: str) -> str:
        return self.run(sys.executable, "-c", code, *args).stdout

    def scrape(self, url: str, timeout: float = 20.0) -> str:
        """GET ``url`` from inside the namespace, retrying while the server starts."""
        end = time.monotonic() + timeout
        while True:
            result = self.run(sys.executable, "-c", SCRAPE, url, check=False)
            if result.returncode == 0:
                return result.stdout
            if time.monotonic() > end:
                raise RuntimeError(f"{url}: {result.stderr.strip()[-500:]}")
            time.sleep(0.2)

    def close(self) -> None:
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False, timeout=30)


@contextmanager
def namespace(tag: str) -> Iterator[Namespace]:
    """A fresh namespace (loopback up), or skip (fail with EXPORTERS_REQUIRE_SERVICES) without root and ip."""
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None:
        missing("network namespaces (root, ip and tc)")
    name = f"exporters-{tag}-{os.getpid()}"
    created = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False, timeout=30)
    if created.returncode:
        missing(f"network namespaces ({created.stderr.strip()})")
    ns = Namespace(name)
    try:
        ns.script("ip link set lo up")
        yield ns
    finally:
        ns.close()
