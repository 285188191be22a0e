"""bench.procstat: an exporter is measured with its worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.procstat import CLOCK_TICKS, read_proc_sample


def fake_process(root: Path, pid: int, ticks: int, rss_kb: int, children: str = "") -> None:
    (root / str(pid) / "task" / str(pid)).mkdir(parents=True)
    (root / str(pid) / "stat").write_text(f"{pid} (python3) S 1 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0\n")
    (root / str(pid) / "status").write_text(f"Name:\tpython3\nVmHWM:\t{rss_kb * 2} kB\nVmRSS:\t{rss_kb} kB\n")
    (root / str(pid) / "task" / str(pid) / "children").write_text(children)


@pytest.mark.timeout(10)
def test_children_are_added_and_a_vanished_one_is_skipped(tmp_path: Path) -> None:
    fake_process(tmp_path, 10, 100, 1000, "11 12 ")
    fake_process(tmp_path, 11, 50, 500, "13")
    fake_process(tmp_path, 13, 10, 100)
    # 12 is listed but already gone
    sample = read_proc_sample(10, str(tmp_path))
    assert sample.rss_bytes == 1600 * 1024
    assert sample.hwm_bytes == 3200 * 1024
    assert sample.cpu_seconds == pytest.approx(160 / CLOCK_TICKS)
    alone = read_proc_sample(13, str(tmp_path))
    assert alone.rss_bytes == 100 * 1024


@pytest.mark.timeout(10)
def test_a_missing_process_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_proc_sample(99, str(tmp_path))
