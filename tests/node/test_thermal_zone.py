"""thermal_zone: thermal zones and cooling devices from /sys/class/thermal."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import thermal_zone
from tests.node.collected import samples
from tests.node.fake_host import make_context, write


@pytest.mark.parametrize(("text", "value"), [("45000\n", 45000), ("-2500", -2500), (" 7 \n", 7)])
def test_parse_temp(text: str, value: int) -> None:
    assert thermal_zone.parse_temp(text) == value


@pytest.mark.parametrize("text", ["", "x", "4.5", "0x10"])
def test_parse_temp_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        thermal_zone.parse_temp(text)


def _zone(tmp_path: Path, n: int, zone_type: str, temp: str) -> None:
    write(tmp_path, f"sys/class/thermal/thermal_zone{n}/type", zone_type + "\n")
    write(tmp_path, f"sys/class/thermal/thermal_zone{n}/policy", "step_wise\n")
    write(tmp_path, f"sys/class/thermal/thermal_zone{n}/temp", temp + "\n")


def _cooling(tmp_path: Path, n: int, cd_type: str, cur: str, top: str) -> None:
    write(tmp_path, f"sys/class/thermal/cooling_device{n}/type", cd_type + "\n")
    write(tmp_path, f"sys/class/thermal/cooling_device{n}/cur_state", cur + "\n")
    write(tmp_path, f"sys/class/thermal/cooling_device{n}/max_state", top + "\n")


def test_collect(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "x86_pkg_temp", "45000")
    _zone(tmp_path, 10, "acpitz", "-2500")
    _cooling(tmp_path, 0, "Processor", "0", "3")
    _cooling(tmp_path, 1, "intel_powerclamp", "-1", "50")
    got = samples(thermal_zone.ThermalZoneCollector(make_context(tmp_path)).collect())
    assert got[("node_thermal_zone_temp", (("type", "x86_pkg_temp"), ("zone", "0")))] == 45
    assert got[("node_thermal_zone_temp", (("type", "acpitz"), ("zone", "10")))] == -2.5
    assert got[("node_cooling_device_cur_state", (("name", "1"), ("type", "intel_powerclamp")))] == -1
    assert got[("node_cooling_device_max_state", (("name", "0"), ("type", "Processor")))] == 3
    assert len(got) == 6


def test_zone_answering_enodata_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _zone(tmp_path, 0, "a", "1000")
    _zone(tmp_path, 1, "b", "2000")
    collector = thermal_zone.ThermalZoneCollector(make_context(tmp_path))
    real = thermal_zone.read_text

    def read(path: str, errors: str = "replace") -> str:
        if "thermal_zone1" in path:
            raise OSError(errno.ENODATA, os.strerror(errno.ENODATA), path)
        return real(path, errors)

    monkeypatch.setattr(thermal_zone, "read_text", read)
    got = samples(collector.collect())
    assert {dict(labels)["zone"] for _, labels in got} == {"0"}


def test_incomplete_zone_is_no_data_and_bad_cooling_device_fails(tmp_path: Path) -> None:
    write(tmp_path, "sys/class/thermal/thermal_zone0/type", "a\n")  # no policy, no temp
    with pytest.raises(NoDataError):
        list(thermal_zone.ThermalZoneCollector(make_context(tmp_path)).collect())
    other = tmp_path / "other"
    _cooling(other, 0, "Processor", "x", "3")
    with pytest.raises(ValueError):
        list(thermal_zone.ThermalZoneCollector(make_context(other)).collect())


def test_no_thermal_class_is_empty(tmp_path: Path) -> None:
    assert samples(thermal_zone.ThermalZoneCollector(make_context(tmp_path)).collect()) == {}


def test_optional_attributes(tmp_path: Path) -> None:
    _zone(tmp_path, 0, "acpitz", "1000")
    write(tmp_path, "sys/class/thermal/thermal_zone0/passive", "0\n")
    write(tmp_path, "sys/class/thermal/thermal_zone0/mode", "enabled\n")
    assert samples(thermal_zone.ThermalZoneCollector(make_context(tmp_path)).collect())
    write(tmp_path, "sys/class/thermal/thermal_zone0/passive", "-5\n")  # procfs reads it as unsigned
    with pytest.raises(ValueError):
        list(thermal_zone.ThermalZoneCollector(make_context(tmp_path)).collect())
