"""edac: memory controller and csrow error counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import edac
from tests.node.collected import collect_partial, samples, types
from tests.node.fake_host import make_context, write

MC = "sys/devices/system/edac/mc"


@pytest.mark.parametrize(("text", "value"), [("3\n", 3), ("0", 0), ("18446744073709551615\n", 2**64 - 1)])
def test_parse_count(text: str, value: int) -> None:
    assert edac.parse_count(text, "x") == value


@pytest.mark.parametrize("text", ["", "-1", "x", "1.0", "18446744073709551616"])
def test_parse_count_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        edac.parse_count(text, "x")


def _controller(tmp_path: Path, name: str, values: dict[str, str]) -> None:
    for key, value in values.items():
        write(tmp_path, f"{MC}/{name}/{key}", value + "\n")


def test_collect(tmp_path: Path) -> None:
    _controller(tmp_path, "mc0", {"ce_count": "3", "ce_noinfo_count": "1", "ue_count": "0", "ue_noinfo_count": "2",
                                  "csrow0/ce_count": "2", "csrow0/ue_count": "0", "csrow1/ce_count": "5",
                                  "csrow1/ue_count": "1"})
    _controller(tmp_path, "mc1", {"ce_count": "0", "ce_noinfo_count": "0", "ue_count": "7", "ue_noinfo_count": "0"})
    write(tmp_path, f"{MC}/power/control", "auto\n")  # not a controller
    metrics = list(edac.EdacCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    assert got[("node_edac_correctable_errors_total", (("controller", "0"),))] == 3
    assert got[("node_edac_uncorrectable_errors_total", (("controller", "1"),))] == 7
    assert got[("node_edac_csrow_correctable_errors_total", (("controller", "0"), ("csrow", "unknown")))] == 1
    assert got[("node_edac_csrow_uncorrectable_errors_total", (("controller", "0"), ("csrow", "unknown")))] == 2
    assert got[("node_edac_csrow_correctable_errors_total", (("controller", "0"), ("csrow", "1")))] == 5
    assert len(got) == 12
    assert set(types(metrics).values()) == {"counter"}


def test_missing_counter_fails_and_no_edac_is_empty(tmp_path: Path) -> None:
    assert samples(edac.EdacCollector(make_context(tmp_path)).collect()) == {}
    _controller(tmp_path, "mc0", {"ce_count": "1"})
    with pytest.raises(FileNotFoundError):
        list(edac.EdacCollector(make_context(tmp_path)).collect())


def test_a_failing_file_keeps_the_samples_read_before(tmp_path: Path) -> None:
    _controller(tmp_path, "mc0", {"ce_count": "3", "ce_noinfo_count": "1", "ue_count": "0", "ue_noinfo_count": "2",
                                  "csrow0/ce_count": "x", "csrow0/ue_count": "0"})
    got, err = collect_partial(edac.EdacCollector(make_context(tmp_path)))
    assert isinstance(err, ValueError)
    assert len(samples(got)) == 4
    assert samples(got)[("node_edac_correctable_errors_total", (("controller", "0"),))] == 3
