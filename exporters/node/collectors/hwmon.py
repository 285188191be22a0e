"""hwmon: /sys/class/hwmon sensors (as lm-sensors sees them), ``node_hwmon_*{chip,sensor}``.

The chip label is derived as upstream does: ``<bus>_<device>`` from the resolved
``device`` link (``platform_coretemp_0``), else the cleaned ``name`` file, else the
``hwmonN`` directory name. Sensor files are ``<type><n>_<property>``; values are
converted to base units (milli -> 1, micro -> 1) by sensor type. Files are read with a
single 128-byte ``read(2)`` (broken drivers answer EAGAIN to buffered reads).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, FamilyDoc, NoDataError
from exporters.core.metrics import FamilySet, Metric
from exporters.core.options import option
from exporters.node.collectors._files import read_once, read_text
from exporters.node.collectors._flags import DeviceFilter, device_filter
from exporters.node.collectors._labels import to_valid_utf8
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "hwmon"

INVALID_METRIC_CHARS = re.compile(r"[^a-z0-9:_]")
FILENAME_FORMAT = re.compile(r"^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$")
SENSOR_TYPES = frozenset({
    "vrm", "beep_enable", "update_interval", "in", "cpu", "fan", "pwm", "temp", "curr", "power", "energy",
    "humidity", "intrusion",
})
LABELS = ["chip", "sensor"]

SensorData = dict[str, dict[str, str]]


def clean_metric_name(name: str) -> str:
    return INVALID_METRIC_CHARS.sub("_", name.lower()).strip("_")


def explode_sensor_filename(filename: str) -> tuple[bool, str, int, str]:
    """``temp1_input`` -> (True, "temp", 1, "input")."""
    match = FILENAME_FORMAT.match(filename)
    if match is None or "\n" in filename:
        return False, "", 0, ""
    number = 0
    if match.group("id"):
        number = int(match.group("id"))
    return True, match.group("type"), number, match.group("property") or ""


def add_sensor_files(data: SensorData, files: dict[str, str]) -> None:
    """Merge the readable files of a hwmon (or its device) directory into ``data``."""
    for filename, raw in sorted(files.items()):
        ok, sensor_type, number, prop = explode_sensor_filename(filename)
        if not ok or sensor_type not in SENSOR_TYPES:
            continue
        data.setdefault(f"{sensor_type}{number}", {})[prop] = raw.strip("\n")


def parse_float_or_none(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)``; None where Go fails (the sensor file is skipped)."""
    try:
        return go_parse_float(text)
    except ValueError:
        return None


def sensor_samples(chip: str, data: SensorData) -> Iterator[tuple[str, str, list[str], list[str], float, bool]]:
    """(metric, help, label names, label values, value, counter?) for one chip's sensors."""
    for sensor, props in sorted(data.items()):
        _, sensor_type, _, _ = explode_sensor_filename(sensor)
        labels = [chip, sensor]
        if "label" in props:
            yield ("node_hwmon_sensor_label", "Label for given chip and sensor", ["chip", "sensor", "label"],
                   [chip, sensor, to_valid_utf8(props["label"])], 1.0, False)
        if sensor_type == "beep_enable":
            yield ("node_hwmon_beep_enabled", "Hardware beep enabled", LABELS, labels,
                   1.0 if props.get("") == "1" else 0.0, False)
            continue
        if sensor_type in ("vrm", "update_interval"):
            value = parse_float_or_none(props.get("", ""))
            if value is None:
                continue
            if sensor_type == "vrm":
                yield ("node_hwmon_voltage_regulator_version", "Hardware voltage regulator", LABELS, labels,
                       value, False)
            else:
                yield ("node_hwmon_update_interval_seconds", "Hardware monitor update interval", LABELS, labels,
                       value * 0.001, False)
            continue
        prefix = "node_hwmon_" + sensor_type
        for element, raw in sorted(props.items()):
            if element == "label":
                continue
            name = prefix
            if element == "input":
                if "" in props:
                    name += "_input"
            elif element != "":
                name += "_" + clean_metric_name(element)
            value = parse_float_or_none(raw)
            if value is None:
                continue
            yield _convert(name, sensor_type, element, value, labels)


class UnitRule(NamedTuple):
    """One row of upstream's unit rules: which sensors, the name suffix, help, scaling, type."""

    types: frozenset[str] | None
    elements: frozenset[str] | None
    suffix: str
    help: str
    multiply: float = 1.0
    divide: float = 1.0
    counter: bool = False
    not_elements: frozenset[str] = frozenset()

    def applies(self, sensor_type: str, element: str) -> bool:
        return ((self.types is None or sensor_type in self.types)
                and (self.elements is None or element in self.elements)
                and element not in self.not_elements)


# First matching row wins (hwmon_linux.go updateHwmon). Scaling keeps upstream's operation
# (x 0.001 or / 1e6) so that values are bit-identical. {shown} is the element, "input" if empty.
UNIT_RULES = (
    UnitRule(None, frozenset({"fault", "alarm"}), "", "Hardware sensor {element} status ({type})"),
    UnitRule(None, frozenset({"beep"}), "_enabled", "Hardware monitor sensor has beeping enabled"),
    UnitRule(frozenset({"in", "cpu"}), None, "_volts", "Hardware monitor for voltage ({element})", multiply=0.001),
    UnitRule(frozenset({"temp"}), None, "_celsius", "Hardware monitor for temperature ({shown})", multiply=0.001,
             not_elements=frozenset({"type"})),
    UnitRule(frozenset({"curr"}), None, "_amps", "Hardware monitor for current ({element})", multiply=0.001),
    UnitRule(frozenset({"energy"}), None, "_joule_total", "Hardware monitor for joules used so far ({element})",
             divide=1000000.0, counter=True),
    UnitRule(frozenset({"power"}), frozenset({"accuracy"}), "", "Hardware monitor power meter accuracy, as a ratio",
             divide=1000000.0),
    UnitRule(frozenset({"power"}), frozenset({"average_interval", "average_interval_min", "average_interval_max"}),
             "_seconds", "Hardware monitor power usage update interval ({element})", multiply=0.001),
    UnitRule(frozenset({"power"}), None, "_watt", "Hardware monitor for power usage in watts ({element})",
             divide=1000000.0),
    UnitRule(frozenset({"humidity"}), None, "", "Hardware monitor for humidity, as a ratio (multiply with 100.0 "
             "to get the humidity as a percentage) ({element})", divide=1000000.0),
    UnitRule(frozenset({"fan"}), frozenset({"input", "min", "max", "target"}), "_rpm",
             "Hardware monitor for fan revolutions per minute ({element})"),
    UnitRule(None, None, "", "Hardware monitor {type} element {element}"),
)


def _convert(name: str, sensor_type: str, element: str, value: float,
             labels: list[str]) -> tuple[str, str, list[str], list[str], float, bool]:
    """Apply the first matching unit rule."""
    rule = next(r for r in UNIT_RULES if r.applies(sensor_type, element))
    if rule.multiply != 1.0:
        value = value * rule.multiply
    if rule.divide != 1.0:
        value = value / rule.divide
    doc = rule.help.format(element=element, type=sensor_type, shown=element or "input")
    return name + rule.suffix, doc, LABELS, labels, value, rule.counter


def chip_name(device_link: str | None, name_file: str | None, real_dir: str) -> str:
    """The ``chip`` label: device path, else name file, else hwmonN (hwmonName())."""
    if device_link is not None:
        prefix, dev_name = os.path.split(device_link)
        dev_type = os.path.basename(prefix.rstrip("/"))
        clean_name, clean_type = clean_metric_name(dev_name), clean_metric_name(dev_type)
        if clean_type and clean_name:
            return f"{clean_type}_{clean_name}"
        if clean_name:
            return clean_name
    if name_file:
        cleaned = clean_metric_name(name_file)
        if cleaned:
            return cleaned
    cleaned = clean_metric_name(os.path.basename(real_dir))
    if cleaned:
        return cleaned
    raise ValueError(f"could not derive a monitoring name for {real_dir}")


class HwmonCollector:
    def __init__(self, context: NodeContext, filter_: DeviceFilter) -> None:
        self.context = context
        self.filter = filter_

    def read_dir_values(self, directory: str) -> dict[str, str]:
        """Every sensor-looking file's content; unreadable ones are skipped (as upstream)."""
        values = {}
        for entry in sorted(os.listdir(directory)):
            ok, sensor_type, _, _ = explode_sensor_filename(entry)
            if not ok or sensor_type not in SENSOR_TYPES:
                continue
            try:
                values[entry] = read_once(os.path.join(directory, entry), errors="surrogateescape")
            except OSError:
                continue
        return values

    def read_name_file(self, directory: str) -> str | None:
        try:
            return read_text(os.path.join(directory, "name"), errors="surrogateescape")
        except OSError:
            return None

    def chip(self, directory: str) -> str:
        device = os.path.join(directory, "device")
        device_link = os.path.realpath(device) if os.path.exists(device) else None
        return chip_name(device_link, self.read_name_file(directory), os.path.realpath(directory))

    def collect(self) -> Iterator[Metric]:
        root = self.context.sys("class", "hwmon")
        try:
            entries = sorted(os.listdir(root))
        except FileNotFoundError as err:
            raise NoDataError("hwmon collector metrics are not available for this system") from err
        families = FamilySet()  # by name, created on first use: the first help text wins
        error: Exception | None = None
        for entry in entries:
            directory = os.path.join(root, entry)
            if not os.path.isdir(directory):
                continue
            try:
                self.collect_chip(directory, families)
            except (OSError, ValueError) as err:
                error = err
        yield from families.families()
        if error is not None:
            # Upstream keeps the other chips' samples and reports the collector as failed.
            raise error

    def collect_chip(self, directory: str, families: FamilySet) -> None:
        chip = self.chip(directory)
        if self.filter.ignored(chip):
            LOGGER.debug("ignoring hwmon chip", extra={"collector": NAME, "chip": chip})
            return
        data: SensorData = {}
        add_sensor_files(data, self.read_dir_values(directory))
        device = os.path.join(directory, "device")
        if os.path.exists(device):
            add_sensor_files(data, self.read_dir_values(device))
        human = self.read_name_file(directory)
        if human:
            cleaned = clean_metric_name(human)
            if cleaned:
                families.gauge("node_hwmon_chip_names", "Annotation metric for human-readable chip names",
                               ["chip", "chip_name"]).add_metric([chip, cleaned], 1.0)
        for name, doc, label_names, values, value, counter in sensor_samples(chip, data):
            (families.counter if counter else families.gauge)(name, doc, label_names).add_metric(values, value)


@dataclass(frozen=True)
class HwmonOptions:
    """The hwmon collector's flags (``--collector.hwmon.*``)."""

    chip_include: str = option("--collector.hwmon.chip-include", "",
                               "Regexp of hwmon chip to include (mutually exclusive to device-exclude).")
    chip_exclude: str = option("--collector.hwmon.chip-exclude", "",
                               "Regexp of hwmon chip to exclude (mutually exclusive to device-include).")


def build(context: NodeContext) -> HwmonCollector:
    options = context.options(HwmonOptions)
    return HwmonCollector(context, device_filter(options.chip_exclude, options.chip_include, "--collector.hwmon",
                                                 exclusive=False, noun="chip"))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True, help="Expose hardware monitoring and sensor data from "
    "/sys/class/hwmon/.", options=HwmonOptions,
    source="/sys/class/hwmon/hwmon<N>/<type><N>_<property>",
    families=(
        FamilyDoc("node_hwmon_chip_names", source="/sys/class/hwmon/hwmon<N>/name and its device link"),
        FamilyDoc("node_hwmon_sensor_label", source="/sys/class/hwmon/hwmon<N>/<type><N>_label"),
        FamilyDoc("node_hwmon_<Sensor>_total", help="Hardware monitor for <type> (<property>)"),
        FamilyDoc("node_hwmon_<Sensor>", help="Hardware monitor for <type> (<property>)"),
    ),
)
