"""powersupplyclass: /sys/class/power_supply attributes, units and info labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.core.flags import ConfigError
from exporters.node.collectors import powersupplyclass
from tests.node.collected import samples
from tests.node.fake_host import make_context, write

BAT = {
    "type": "Battery", "status": "Discharging", "present": "1", "technology": "Li-ion", "cycle_count": "42",
    "voltage_now": "12051000", "power_now": "9174000", "energy_now": "42040000", "capacity": "83",
    "manufacturer": "LGC", "model_name": "", "temp": "283", "alarm": "2440000", "current_now": "0x10",
}


def test_parse_power_supply() -> None:
    supply = powersupplyclass.parse_power_supply("BAT0", BAT)
    assert supply.numbers["cycle_count"] == 42 and supply.numbers["current_now"] == 16
    assert supply.text["technology"] == "Li-ion" and "alarm" not in supply.numbers
    assert powersupplyclass.parse_power_supply("X", {"capacity": "full"}).numbers["capacity"] == 0


def _supply(tmp_path: Path, name: str, attrs: dict[str, str]) -> None:
    for key, value in attrs.items():
        write(tmp_path, f"sys/class/power_supply/{name}/{key}", value + "\n")


def test_collect(tmp_path: Path) -> None:
    _supply(tmp_path, "BAT0", BAT)
    _supply(tmp_path, "AC", {"type": "Mains", "online": "1"})
    got = samples(powersupplyclass.PowerSupplyClassCollector(make_context(tmp_path), _never()).collect())
    bat = (("power_supply", "BAT0"),)
    assert got[("node_power_supply_cyclecount", bat)] == 42
    assert got[("node_power_supply_voltage_volt", bat)] == pytest.approx(12.051)
    assert got[("node_power_supply_power_watt", bat)] == pytest.approx(9.174)
    assert got[("node_power_supply_energy_watthour", bat)] == pytest.approx(42.04)
    assert got[("node_power_supply_temp_celsius", bat)] == pytest.approx(28.3)
    assert got[("node_power_supply_capacity", bat)] == 83
    assert got[("node_power_supply_online", (("power_supply", "AC"),))] == 1
    infos = {dict(labels)["power_supply"]: dict(labels) for name, labels in got if name == "node_power_supply_info"}
    assert infos["AC"] == {"power_supply": "AC", "type": "Mains"}  # only non-empty labels
    assert "model_name" not in infos["BAT0"] and infos["BAT0"]["status"] == "Discharging"


def test_ignored_supplies(tmp_path: Path) -> None:
    _supply(tmp_path, "BAT0", BAT)
    _supply(tmp_path, "AC", {"type": "Mains", "online": "1"})
    got = samples(powersupplyclass.factory(make_context(tmp_path, powersupply_ignored_supplies="^BAT")).collect())
    assert {dict(labels)["power_supply"] for _, labels in got} == {"AC"}
    with pytest.raises(ConfigError):
        powersupplyclass.factory(make_context(tmp_path, powersupply_ignored_supplies="[a-"))


def test_no_power_supply_class_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(powersupplyclass.PowerSupplyClassCollector(make_context(tmp_path), _never()).collect())


def _never() -> re.Pattern[str]:
    return re.compile("^$")


def test_broken_supply_link_is_no_data(tmp_path: Path) -> None:
    _supply(tmp_path, "AC", {"type": "Mains", "online": "1"})
    (tmp_path / "sys/class/power_supply/BAT9").symlink_to("nowhere")
    with pytest.raises(NoDataError):
        list(powersupplyclass.PowerSupplyClassCollector(make_context(tmp_path), _never()).collect())
