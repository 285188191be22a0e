"""hwmon: sensor file names, chip naming, unit conversions and chip filters."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import hwmon
from exporters.node.collectors._flags import DeviceFilter
from tests.node.collected import collect_partial, samples, types
from tests.node.fake_host import make_context, write


@pytest.mark.parametrize(
    ("filename", "expect"),
    [
        ("temp1_input", (True, "temp", 1, "input")),
        ("in0_input", (True, "in", 0, "input")),
        ("power1_average_interval", (True, "power", 1, "average_interval")),
        ("fan12_min", (True, "fan", 12, "min")),
        ("beep_enable", (True, "beep_enable", 0, "")),
        ("update_interval", (True, "update_interval", 0, "")),
        ("pwm1", (True, "pwm", 1, "")),
        ("temp_input", (True, "temp_input", 0, "")),  # greedy type, as RE2
        ("1temp", (False, "", 0, "")),
        ("", (False, "", 0, "")),
    ],
)
def test_explode_sensor_filename(filename: str, expect: tuple[bool, str, int, str]) -> None:
    assert hwmon.explode_sensor_filename(filename) == expect


@pytest.mark.parametrize(("name", "clean"), [("Coretemp\n", "coretemp"), ("coretemp.0", "coretemp_0"),
                                             ("--a b--", "a_b"), ("i2c-0", "i2c_0"), ("\n", "")])
def test_clean_metric_name(name: str, clean: str) -> None:
    assert hwmon.clean_metric_name(name) == clean


@pytest.mark.parametrize(
    ("device", "name", "real", "chip"),
    [
        ("/sys/devices/platform/coretemp.0", "coretemp\n", "/sys/class/hwmon/hwmon0", "platform_coretemp_0"),
        ("/sys/devices/pci0000:00/0000:00:1f.3/i2c-0/0-0048", None, "/x/hwmon3", "i2c_0_0_0048"),
        ("/--", "acpitz\n", "/x/hwmon1", "acpitz"),  # a device path that cleans to nothing
        (None, "nct6779\n", "/x/hwmon1", "nct6779"),
        (None, "\n", "/x/hwmon2", "hwmon2"),
        (None, None, "/x/hwmon7", "hwmon7"),
    ],
)
def test_chip_name(device: str | None, name: str | None, real: str, chip: str) -> None:
    assert hwmon.chip_name(device, name, real) == chip


def test_chip_name_underivable() -> None:
    with pytest.raises(ValueError):
        hwmon.chip_name(None, None, "/x/--")


def _by_name(chip: str, data: hwmon.SensorData) -> dict[tuple[str, str], tuple[float, str]]:
    return {(name, values[1] if len(values) > 1 else ""): (value, doc)
            for name, doc, _, values, value, _ in hwmon.sensor_samples(chip, data)}


@pytest.mark.parametrize(
    ("files", "name", "sensor", "value"),
    [
        ({"temp1_input": "55000"}, "node_hwmon_temp_celsius", "temp1", 55.0),
        ({"temp1_input": "55000", "temp1": "1"}, "node_hwmon_temp_input_celsius", "temp1", 55.0),
        ({"temp7": "31000"}, "node_hwmon_temp_celsius", "temp7", 31.0),
        ({"temp1_max": "100000"}, "node_hwmon_temp_max_celsius", "temp1", 100.0),
        ({"temp1_type": "4"}, "node_hwmon_temp_type", "temp1", 4.0),
        ({"temp1_crit_alarm": "1"}, "node_hwmon_temp_crit_alarm_celsius", "temp1", 0.001),
        ({"in0_input": "1016"}, "node_hwmon_in_volts", "in0", 1.016),
        ({"in0_alarm": "1"}, "node_hwmon_in_alarm", "in0", 1.0),
        ({"in0_beep": "1"}, "node_hwmon_in_beep_enabled", "in0", 1.0),
        ({"cpu0_vid": "1250"}, "node_hwmon_cpu_vid_volts", "cpu0", 1.25),
        ({"fan1_input": "1205"}, "node_hwmon_fan_rpm", "fan1", 1205.0),
        ({"fan1_target": "1200"}, "node_hwmon_fan_target_rpm", "fan1", 1200.0),
        ({"fan1_div": "8"}, "node_hwmon_fan_div", "fan1", 8.0),
        ({"fan2_fault": "1"}, "node_hwmon_fan_fault", "fan2", 1.0),
        ({"pwm1": "128"}, "node_hwmon_pwm", "pwm1", 128.0),
        ({"pwm1_enable": "2"}, "node_hwmon_pwm_enable", "pwm1", 2.0),
        ({"curr1_input": "1500"}, "node_hwmon_curr_amps", "curr1", 1.5),
        ({"power1_input": "15250000"}, "node_hwmon_power_watt", "power1", 15.25),
        ({"power1_accuracy": "2500"}, "node_hwmon_power_accuracy", "power1", 0.0025),
        ({"power1_average_interval": "1000"}, "node_hwmon_power_average_interval_seconds", "power1", 1.0),
        ({"energy1_input": "123456789"}, "node_hwmon_energy_joule_total", "energy1", 123.456789),
        ({"humidity1_input": "45500"}, "node_hwmon_humidity", "humidity1", 0.0455),
        ({"intrusion0_alarm": "1"}, "node_hwmon_intrusion_alarm", "intrusion0", 1.0),
        ({"beep_enable": "1"}, "node_hwmon_beep_enabled", "beep_enable0", 1.0),
        ({"beep_enable": "2"}, "node_hwmon_beep_enabled", "beep_enable0", 0.0),
        ({"vrm": "9.1"}, "node_hwmon_voltage_regulator_version", "vrm0", 9.1),
        ({"update_interval": "1000"}, "node_hwmon_update_interval_seconds", "update_interval0", 1.0),
    ],
)
def test_sensor_samples(files: dict[str, str], name: str, sensor: str, value: float) -> None:
    data: hwmon.SensorData = {}
    hwmon.add_sensor_files(data, {k: v + "\n" for k, v in files.items()})
    got = _by_name("chip", data)
    assert got[(name, sensor)][0] == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("files", [{"temp1_input": "bad"}, {"temp1_input": " 5"}, {"vrm": "x"},
                                   {"update_interval": ""}, {"name": "x"}, {"uevent": "1"}])
def test_sensor_samples_skip_unparsable_and_foreign_files(files: dict[str, str]) -> None:
    data: hwmon.SensorData = {}
    hwmon.add_sensor_files(data, files)
    assert list(hwmon.sensor_samples("chip", data)) == []


def test_sensor_label_is_valid_utf8() -> None:
    data: hwmon.SensorData = {}
    hwmon.add_sensor_files(data, {"temp1_label": b"Core \xff".decode("utf-8", "surrogateescape") + "\n",
                                  "temp1_input": "1000\n"})
    got = _by_name("chip", data)
    labels = [values for name, _, _, values, _, _ in hwmon.sensor_samples("chip", data)
              if name == "node_hwmon_sensor_label"]
    assert labels == [["chip", "temp1", "Core \ufffd"]]
    assert ("node_hwmon_temp_celsius", "temp1") in got


def _chip(tmp_path: Path) -> None:
    device = tmp_path / "sys/devices/platform/coretemp.0"
    write(tmp_path, "sys/devices/platform/coretemp.0/hwmon/hwmon0/name", "coretemp\n")
    write(tmp_path, "sys/devices/platform/coretemp.0/hwmon/hwmon0/temp1_input", "55000\n")
    write(tmp_path, "sys/devices/platform/coretemp.0/temp2_input", "45000\n")  # in the device directory
    os.symlink("../../../coretemp.0", device / "hwmon/hwmon0/device")
    (tmp_path / "sys/class/hwmon").mkdir(parents=True)
    os.symlink("../../devices/platform/coretemp.0/hwmon/hwmon0", tmp_path / "sys/class/hwmon/hwmon0")
    write(tmp_path, "sys/class/hwmon/hwmon1/name", "acpitz\n")
    write(tmp_path, "sys/class/hwmon/hwmon1/temp1_input", "27800\n")
    write(tmp_path, "sys/class/hwmon/stray_file", "x\n")


def test_collect(tmp_path: Path) -> None:
    _chip(tmp_path)
    metrics = list(hwmon.HwmonCollector(make_context(tmp_path), DeviceFilter()).collect())
    got = samples(metrics)
    assert got[("node_hwmon_temp_celsius", (("chip", "platform_coretemp_0"), ("sensor", "temp1")))] == 55
    assert got[("node_hwmon_temp_celsius", (("chip", "platform_coretemp_0"), ("sensor", "temp2")))] == 45
    assert got[("node_hwmon_temp_celsius", (("chip", "acpitz"), ("sensor", "temp1")))] == pytest.approx(27.8)
    assert got[("node_hwmon_chip_names", (("chip", "platform_coretemp_0"), ("chip_name", "coretemp")))] == 1
    assert types(metrics)["node_hwmon_temp_celsius"] == "gauge"


@pytest.mark.parametrize(
    ("flags", "chips"),
    [
        (("--collector.hwmon.chip-include=^platform",), {"platform_coretemp_0"}),
        (("--collector.hwmon.chip-exclude=coretemp",), {"acpitz"}),
        ((), {"platform_coretemp_0", "acpitz"}),
    ],
)
def test_chip_filters(tmp_path: Path, flags: tuple[str, ...], chips: set[str]) -> None:
    _chip(tmp_path)
    got = samples(hwmon.build(make_context(tmp_path, *flags)).collect())
    assert {dict(labels)["chip"] for _, labels in got} == chips


def test_a_bad_chip_keeps_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _chip(tmp_path)
    collector = hwmon.HwmonCollector(make_context(tmp_path), DeviceFilter())
    real = collector.chip

    def chip(directory: str) -> str:
        if directory.endswith("hwmon1"):
            raise ValueError("could not derive a monitoring name")
        return real(directory)

    monkeypatch.setattr(collector, "chip", chip)
    got, err = collect_partial(collector)
    assert isinstance(err, ValueError)
    assert {dict(labels)["chip"] for _, labels in samples(got)} == {"platform_coretemp_0"}


def test_no_hwmon_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(hwmon.HwmonCollector(make_context(tmp_path), DeviceFilter()).collect())
