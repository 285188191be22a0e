"""rapl: powercap zones, their names and indexes, and the zone-label variant."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import rapl
from exporters.node.collectors._labels import sanitize_metric_name
from tests.node.collected import collect_partial, samples, types
from tests.node.fake_host import make_context, write


@pytest.mark.parametrize(
    ("name", "counts", "expect"),
    [
        ("package-0", {}, (0, "package")),
        ("package-12", {}, (12, "package")),
        ("dram", {}, (0, "dram")),
        ("dram", {"dram": 1}, (1, "dram")),  # a second dram zone without an index
        ("psys-x", {}, (0, "psys-x")),
        ("a-1-2", {}, (0, "a-1-2")),
    ],
)
def test_index_and_name(name: str, counts: dict[str, int], expect: tuple[int, str]) -> None:
    assert rapl.index_and_name(counts, name) == expect


@pytest.mark.parametrize(("name", "clean"), [("package", "package"), ("psys-x", "psys_x"), ("a..b", "a_b"),
                                             ("a_.b", "a_b")])
def test_sanitize_metric_name(name: str, clean: str) -> None:
    assert sanitize_metric_name(name) == clean


def _zone(tmp_path: Path, zone: str, name: str, uj: str) -> None:
    write(tmp_path, f"sys/class/powercap/{zone}/name", name + "\n")
    write(tmp_path, f"sys/class/powercap/{zone}/energy_uj", uj + "\n")
    write(tmp_path, f"sys/class/powercap/{zone}/max_energy_range_uj", "262143328850\n")


def test_collect(tmp_path: Path) -> None:
    _zone(tmp_path, "intel-rapl:0", "package-0", "240422366267")
    _zone(tmp_path, "intel-rapl:0:0", "dram", "4611")
    _zone(tmp_path, "intel-rapl:1:0", "dram", "1000000")
    (tmp_path / "sys/class/powercap/intel-rapl").mkdir()  # control type: no name file
    context = make_context(tmp_path)
    metrics = list(rapl.RaplCollector(context).collect())
    got = samples(metrics)
    base = os.path.join(context.sysfs, "class/powercap")
    assert got[("node_rapl_package_joules_total", (("index", "0"), ("path", f"{base}/intel-rapl:0")))] == \
        pytest.approx(240422.366267)
    assert got[("node_rapl_dram_joules_total", (("index", "1"), ("path", f"{base}/intel-rapl:1:0")))] == 1.0
    assert types(metrics)["node_rapl_dram_joules"] == "counter"
    zoned = samples(rapl.factory(make_context(tmp_path, rapl_zone_label=True)).collect())
    assert zoned[("node_rapl_joules_total", (("index", "0"), ("path", f"{base}/intel-rapl:0:0"),
                                             ("rapl_zone", "dram")))] == pytest.approx(0.004611)
    assert len(zoned) == 3


def test_bad_counter_fails(tmp_path: Path) -> None:
    _zone(tmp_path, "intel-rapl:0", "package-0", "x")
    with pytest.raises(ValueError):
        list(rapl.RaplCollector(make_context(tmp_path)).collect())


def test_no_powercap_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(rapl.RaplCollector(make_context(tmp_path)).collect())


def test_unreadable_zone_keeps_earlier_zones(tmp_path: Path) -> None:
    _zone(tmp_path, "intel-rapl:0", "package-0", "1000000")
    _zone(tmp_path, "intel-rapl:1", "package-1", "1000000")
    (tmp_path / "sys/class/powercap/intel-rapl:1/energy_uj").unlink()
    got, err = collect_partial(rapl.RaplCollector(make_context(tmp_path)))
    assert isinstance(err, FileNotFoundError)
    assert [dict(labels)["index"] for _, labels in samples(got)] == ["0"]
