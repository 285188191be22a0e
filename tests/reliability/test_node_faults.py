"""Node exporter under host faults: a hung mount, an unreadable sysfs file, vanishing /proc entries."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.reliability.conftest import SLACK, record, scrape
from tests.reliability.fusefs import fuse_available
from tests.reliability.launch import launch

FIXTURES = REPO / "tests" / "fixtures" / "node"


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A temporary directory outside pytest's 0700 tree, so that dropped privileges still reach it."""
    path = Path(tempfile.mkdtemp(prefix="exporters-rel-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


HOLD_SECONDS = 12.0


@pytest.mark.timeout(60)
def test_statfs_that_never_returns(tmp_path: Path, world_readable_dir: Path) -> None:
    """A FUSE mount whose statfs blocks: device_error 1 after mount-timeout, scrape in deadline.

    The mount lives in a private mount namespace shared only by the exporter, so no other
    process on the host meets it.
    """
    reason = fuse_available()
    if reason is not None:
        pytest.xfail(f"cannot mount a FUSE filesystem here: {reason}")
    probe = subprocess.run([sys.executable, "-m", "tests.reliability.fusefs", "--probe",
                            str(world_readable_dir / "probe")], capture_output=True, text=True, cwd=REPO, timeout=30)
    if probe.returncode != 0:
        pytest.xfail(f"cannot mount FUSE in a private mount namespace here: {probe.stderr.strip()[-300:]}")
    mount_point = world_readable_dir / "hung"
    report = tmp_path / "fuse-report"
    prefix = [sys.executable, "-m", "tests.reliability.fusefs", str(mount_point), str(report),
              str(HOLD_SECONDS), "--"]
    # PID 1 is outside the private namespace: a procfs view whose mount table is the exporter's own
    # (as when PID 1 is hidden, the collector falls back to <procfs>/mounts).
    procfs = world_readable_dir / "proc"
    procfs.mkdir()
    (procfs / "mounts").symlink_to("/proc/self/mounts")
    (procfs / "loadavg").symlink_to("/proc/loadavg")
    exporter = launch("node", [
        "--collector.disable-defaults", "--collector.filesystem", "--collector.loadavg",
        "--collector.filesystem.mount-timeout=1s", f"--path.procfs={procfs}",
    ], tmp_path, prefix=prefix)
    try:
        first = scrape(exporter.url + "/metrics", timeout=4)
        second = scrape(exporter.url + "/metrics", timeout=4)
        third = scrape(exporter.url + "/metrics", timeout=4)
    finally:
        exporter.proc.send_signal(signal.SIGTERM)
        exporter.proc.wait(HOLD_SECONDS + 15)
    statfs_requests, exit_seconds = report.read_text().split()
    mp = str(mount_point)
    for result in (first, second, third):
        assert result.status == 200
        assert result.seconds < 4 + SLACK
        assert result.value("node_filesystem_device_error", mountpoint=mp, fstype="fuse.hangfs") == 1, (
            f"filesystem success {result.value('node_scrape_collector_success', collector='filesystem')}; "
            f"log: {exporter.log()[-3000:]}")
        assert result.value("node_filesystem_size_bytes", mountpoint=mp) is None
        assert result.value("node_filesystem_size_bytes", mountpoint="/") is not None
        assert result.value("node_scrape_collector_success", collector="filesystem") == 1
        assert result.value("node_scrape_collector_success", collector="loadavg") == 1
        assert result.value("node_load1") is not None
    # the first scrape waits for the mount timeout (1 s), later ones skip the stuck mount
    assert first.seconds >= 0.9
    assert third.seconds < first.seconds
    assert int(statfs_requests) == 1, "a stuck mount must not be asked again while its call is in flight"
    record("node statfs never returns", first_scrape_s=first.seconds, later_scrape_s=third.seconds,
           device_error=1, statfs_calls=int(statfs_requests), sigterm_exit_s=float(exit_seconds))
    # The exporter itself stops at once: SIGTERM to "stopped" well under a second. The process
    # can only leave once the kernel has an answer for the statfs it sent to the FUSE server
    # (a FUSE or hard NFS request already read by the server is not abandoned on exit), so
    # exit_seconds is bounded by the server (HOLD_SECONDS here), not by the exporter; Go's
    # node_exporter is held the same way.
    log = exporter.log()
    stamps = {}
    for line in log.splitlines():
        for marker in ('msg="shutting down', "msg=stopped"):
            if marker in line:
                stamps[marker] = datetime.strptime(line.split()[0][3:], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(stamps) == 2, log[-2000:]
    assert (stamps["msg=stopped"] - stamps['msg="shutting down']).total_seconds() < 1.0
    assert float(exit_seconds) <= HOLD_SECONDS + 5


@pytest.mark.timeout(60)
def test_unreadable_sysfs_file(tmp_path: Path, world_readable_dir: Path) -> None:
    """A chmod-000 sysfs file, read by an exporter without CAP_DAC_OVERRIDE (root ignores modes)."""
    if shutil.which("setpriv") is None:
        pytest.xfail("setpriv (util-linux) is needed to drop CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH")
    sysfs = world_readable_dir / "sys"
    shutil.copytree(FIXTURES / "sys", sysfs, symlinks=True)
    for directory, _, _ in os.walk(sysfs):
        os.chmod(directory, 0o755)
    unreadable = sysfs / "class" / "thermal" / "thermal_zone0" / "temp"
    unreadable.chmod(0o000)
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    check = subprocess.run([*prefix, "cat", str(unreadable)], capture_output=True)
    assert check.returncode != 0, "the capability drop did not take effect"
    exporter = launch("node", [
        "--collector.disable-defaults", "--collector.thermal_zone", "--collector.powersupplyclass",
        "--collector.loadavg", f"--path.sysfs={sysfs}", f"--path.procfs={FIXTURES / 'proc'}",
    ], tmp_path, prefix=prefix)
    try:
        result = scrape(exporter.url + "/metrics", timeout=3)
    finally:
        exporter.stop()
    assert result.status == 200
    assert result.seconds < 3 + SLACK
    # the unreadable zone is never reported with an invented value
    assert result.value("node_thermal_zone_temp", zone="0") is None
    thermal_ok = result.value("node_scrape_collector_success", collector="thermal_zone")
    if thermal_ok == 0:
        assert "thermal_zone" in exporter.log(), "a failed collector must log its name"
    else:
        assert thermal_ok == 1
        assert result.value("node_thermal_zone_temp", zone="1") is not None
    assert result.value("node_scrape_collector_success", collector="powersupplyclass") == 1
    assert result.value("node_scrape_collector_success", collector="loadavg") == 1
    assert result.value("node_power_supply_online") is not None
    record("node unreadable sysfs file", scrape_seconds=result.seconds, thermal_zone_success=thermal_ok)


def _churn_fixture_pids(proc: Path, stop: threading.Event, counter: list[int]) -> None:
    template = (FIXTURES / "proc" / "1" / "stat").read_text()
    pid = 5000
    while not stop.is_set():
        # built aside and renamed into place: a real /proc/<pid> never shows a half-written stat
        staging = proc / f".staging-{pid}"
        staging.mkdir()
        (staging / "task").mkdir()
        (staging / "stat").write_text(template.replace("1 (", f"{pid} (", 1))
        staging.rename(proc / str(pid))
        shutil.rmtree(proc / str(pid - 3), ignore_errors=True)
        counter[0] += 1
        pid += 1


def _churn_real_processes(stop: threading.Event, counter: list[int]) -> None:
    while not stop.is_set():
        procs = [subprocess.Popen(["/bin/true"]) for _ in range(8)]
        for p in procs:
            p.wait()
        counter[0] += len(procs)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("source", ["real-proc", "fixture-proc"])
def test_proc_entries_vanishing_while_read(source: str, tmp_path: Path) -> None:
    """Processes that exit between listdir and open cost nothing but themselves."""
    if source == "fixture-proc":
        proc = tmp_path / "proc"
        shutil.copytree(FIXTURES / "proc", proc, symlinks=True)
        procfs = str(proc)
    else:
        procfs = "/proc"
    exporter = launch("node", [
        "--collector.disable-defaults", "--collector.processes", "--collector.stat", f"--path.procfs={procfs}",
    ], tmp_path)
    stop = threading.Event()
    churned = [0]
    target = _churn_real_processes if source == "real-proc" else _churn_fixture_pids
    args: tuple[object, ...] = (stop, churned) if source == "real-proc" else (Path(procfs), stop, churned)
    churner = threading.Thread(target=target, args=args, daemon=True)
    churner.start()
    results = []
    try:
        end = time.monotonic() + 3
        while time.monotonic() < end:
            results.append(scrape(exporter.url + "/metrics", timeout=3))
    finally:
        stop.set()
        churner.join(10)
        exporter.stop()
    assert churned[0] > 50, "the churn did not run"
    assert len(results) >= 10
    for result in results:
        assert result.status == 200
        assert result.seconds < 3 + SLACK
        assert result.value("node_scrape_collector_success", collector="processes") == 1
        assert result.value("node_scrape_collector_success", collector="stat") == 1
        assert (result.value("node_processes_pids") or 0) > 0
    assert "Traceback" not in exporter.log()
    record(f"node vanishing /proc entries ({source})", scrapes=len(results), churned=churned[0],
           max_scrape_s=max(r.seconds for r in results))
