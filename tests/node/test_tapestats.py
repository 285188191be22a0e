"""tapestats collector: SCSI tape counters, units and the ignore flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import tapestats
from exporters.node.collectors.tapestats import STATS
from tests.node.collected import samples, value
from tests.node.fake_host import make_context, write_tree

ST = "sys/class/scsi_tape"


def tree() -> dict[str, str]:
    files = {f"{ST}/st0/stats/{name}": f"{i + 1}\n" for i, (name, *_) in enumerate(STATS)}
    files[f"{ST}/st0/stats/io_ns"] = "0x3e8\n"  # procfs parses with base 0: hexadecimal is accepted
    files[f"{ST}/st0/stats/unknown_cnt"] = "whatever\n"
    files[f"{ST}/st1/stats/read_cnt"] = "5\n"
    files[f"{ST}/st0l/dev"] = "9:32\n"  # mode devices do not match ^st[0-9]+$
    files[f"{ST}/nst0/dev"] = "9:128\n"
    return files


def test_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, tree())
    found = samples(tapestats.build(make_context(tmp_path)).collect())
    assert {dict(labels)["device"] for _, labels in found} == {"st0", "st1"}
    assert value(found, "node_tape_io_now", device="st0") == 1
    assert value(found, "node_tape_io_time_seconds_total", device="st0") == 1000 * 0.000000001
    assert value(found, "node_tape_read_time_seconds_total", device="st0") == 6 * 0.000000001
    assert value(found, "node_tape_written_bytes_total", device="st0") == 8
    assert value(found, "node_tape_reads_completed_total", device="st1") == 5
    assert value(found, "node_tape_residual_total", device="st1") == 0  # absent counters are 0


def test_ignored_devices_flag(tmp_path: Path) -> None:
    write_tree(tmp_path, tree())
    found = samples(tapestats.build(make_context(tmp_path, "--collector.tapestats.ignored-devices=1")).collect())
    assert {dict(labels)["device"] for _, labels in found} == {"st0"}


@pytest.mark.parametrize("bad", ["-1\n", "1.5\n", "ten\n"])
def test_bad_counter_is_an_error(tmp_path: Path, bad: str) -> None:
    write_tree(tmp_path, {f"{ST}/st0/stats/read_cnt": bad})
    with pytest.raises(ValueError):
        list(tapestats.build(make_context(tmp_path)).collect())


def test_no_tape_class_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(tapestats.build(make_context(tmp_path)).collect())
