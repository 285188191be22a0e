"""runit collector: the status file format, and a real runsvdir side by side with node_exporter 1.9.0."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters.node.collectors import runit
from exporters.node.collectors.runit import RunitCollector, ServiceStatus
from tests.conftest import missing
from tests.node.collected import samples, value
from tests.node.live_scrape import get, same_as_reference

pytestmark = pytest.mark.timeout(120)


def status_bytes(timestamp: int, pid: int, want: bytes, state: int, nanoseconds: int = 0) -> bytes:
    """What runsv writes: TAI64N (big-endian), pid (little-endian), paused, want, term, state."""
    return struct.pack(">QI", timestamp + runit.TAI_OFFSET, nanoseconds) + struct.pack("<I", pid) + (
        b"\0" + want + b"\0" + bytes([state]))


@pytest.mark.parametrize(("data", "expected"), [
    (status_bytes(1_700_000_000, 4242, b"u", 1, 123), ServiceStatus(1, 1, 1_700_000_000, 4242)),
    (status_bytes(1_600_000_000, 0, b"d", 0), ServiceStatus(0, 0, 1_600_000_000, 0)),
    (status_bytes(1_600_000_000, 7, b"?", 2), ServiceStatus(2, 0, 1_600_000_000, 7)),
    (status_bytes(1, 0, b"u", 1) + b"trailing", ServiceStatus(1, 1, 1, 0)),
    # short file: the rest reads as zeros (upstream reads into a zeroed 20-byte buffer)
    (status_bytes(1_500_000_000, 9, b"u", 1)[:13], ServiceStatus(0, 0, 1_500_000_000, 9)),
    # a timestamp with the high bit set is negative as upstream's int64
    (b"\xff" * 8 + bytes(12), ServiceStatus(0, 0, -1 - runit.TAI_OFFSET, 0)),
])
def test_parse_status(data: bytes, expected: ServiceStatus) -> None:
    assert runit.parse_status(data) == expected


def test_empty_status_file_is_skipped(tmp_path: Path) -> None:
    for name, data in (("empty", b""), ("ok", status_bytes(1_700_000_000, 1, b"u", 1))):
        (tmp_path / name / "supervise").mkdir(parents=True)
        (tmp_path / name / "supervise" / "status").write_bytes(data)
    (tmp_path / "nostatus").mkdir()
    (tmp_path / "a-file").write_text("not a service")
    (tmp_path / "link").symlink_to(tmp_path / "ok")
    (tmp_path / "ok" / "supervise" / "down").write_text("")
    found = samples(RunitCollector(str(tmp_path)).collect())
    assert {dict(labels)["service"] for _, labels in found} == {"ok", "link"}
    assert value(found, "node_service_normal_state", service="ok", supervisor="runit") == 0
    assert value(found, "node_service_state_last_change_timestamp_seconds", service="link",
                 supervisor="runit") == 1_700_000_000


def test_missing_service_dir_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(RunitCollector(str(tmp_path / "absent")).collect())


# ---- a real runsvdir


@pytest.fixture(scope="module")
def service_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    binary = shutil.which("runsvdir")
    if binary is None:
        missing("runsvdir (Debian package runit)")
    assert binary is not None
    base = tmp_path_factory.mktemp("runit")
    services = base / "service"
    services.mkdir()
    elsewhere = base / "elsewhere"
    for directory, down in ((services / "sleeper", False), (services / "parked", True), (elsewhere, False)):
        directory.mkdir()
        (directory / "run").write_text("#!/bin/sh\nexec sleep 600\n")
        (directory / "run").chmod(0o755)
        if down:
            (directory / "down").write_text("")  # runsv starts it down
    (services / "linked").symlink_to(elsewhere)
    proc = subprocess.Popen([binary, str(services)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        end = time.monotonic() + 30
        while True:
            try:
                states = {s: runit.read_status(str(services), s)[0].state for s in ("sleeper", "parked", "linked")}
                if states == {"sleeper": 1, "parked": 0, "linked": 1}:
                    break
            except (OSError, ValueError):
                pass
            assert proc.poll() is None and time.monotonic() < end, "runsvdir did not start the services"
            time.sleep(0.05)
        yield services
    finally:
        # SIGHUP: runsvdir sends TERM to every runsv (each stops its service) and exits
        proc.send_signal(signal.SIGHUP)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def test_same_series_as_node_exporter(service_dir: Path) -> None:
    flags = ["--collector.disable-defaults", "--collector.runit", f"--collector.runit.servicedir={service_dir}"]
    ours = same_as_reference(flags, "node_service", "runit")
    assert get(ours, "node_service_state", service="sleeper", supervisor="runit") == 1
    assert get(ours, "node_service_desired_state", service="sleeper", supervisor="runit") == 1
    assert get(ours, "node_service_state", service="parked", supervisor="runit") == 0
    assert get(ours, "node_service_desired_state", service="parked", supervisor="runit") == 0
    assert get(ours, "node_service_state", service="linked", supervisor="runit") == 1
    changed = get(ours, "node_service_state_last_change_timestamp_seconds", service="sleeper", supervisor="runit")
    assert abs(changed - time.time()) < 600
