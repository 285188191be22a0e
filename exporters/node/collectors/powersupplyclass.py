"""powersupplyclass: /sys/class/power_supply/<supply>/ attributes, ``node_power_supply_*{power_supply}``.

Integer attributes are exported by unit table (as-is, micro -> 1, tenths of a degree
-> degrees); text attributes become labels of ``node_power_supply_info`` (only the
non-empty ones, so the label set varies by supply, as upstream).
"""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec, FamilyDoc, NoDataError
from exporters.core.metrics import FamilySet, GaugeFamily, Metric, Sample
from exporters.core.options import option
from exporters.node.collectors._files import read_attribute_files
from exporters.node.collectors._flags import compile_go_regex
from exporters.node.collectors._labels import to_valid_utf8, without_invalid_utf8
from exporters.node.collectors._strconv import procfs_pint64
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "powersupplyclass"
# procfs skips ENOENT and EOPNOTSUPP only (its os.ErrInvalid test never matches an errno).
SKIPPED_ERRNOS = {errno.ENOENT, errno.EOPNOTSUPP}

# attribute file -> (metric suffix, divisor)
NUMERIC: dict[str, tuple[str, float]] = {
    "authentic": ("authentic", 1.0),
    "calibrate": ("calibrate", 1.0),
    "capacity": ("capacity", 1.0),
    "capacity_alert_max": ("capacity_alert_max", 1.0),
    "capacity_alert_min": ("capacity_alert_min", 1.0),
    "cycle_count": ("cyclecount", 1.0),
    "online": ("online", 1.0),
    "present": ("present", 1.0),
    "time_to_empty_now": ("time_to_empty_seconds", 1.0),
    "time_to_full_now": ("time_to_full_seconds", 1.0),
    "current_boot": ("current_boot", 1e6),
    "current_max": ("current_max", 1e6),
    "current_now": ("current_ampere", 1e6),
    "energy_empty": ("energy_empty", 1e6),
    "energy_empty_design": ("energy_empty_design", 1e6),
    "energy_full": ("energy_full", 1e6),
    "energy_full_design": ("energy_full_design", 1e6),
    "energy_now": ("energy_watthour", 1e6),
    "voltage_boot": ("voltage_boot", 1e6),
    "voltage_max": ("voltage_max", 1e6),
    "voltage_max_design": ("voltage_max_design", 1e6),
    "voltage_min": ("voltage_min", 1e6),
    "voltage_min_design": ("voltage_min_design", 1e6),
    "voltage_now": ("voltage_volt", 1e6),
    "voltage_ocv": ("voltage_ocv", 1e6),
    "charge_control_limit": ("charge_control_limit", 1e6),
    "charge_control_limit_max": ("charge_control_limit_max", 1e6),
    "charge_counter": ("charge_counter", 1e6),
    "charge_empty": ("charge_empty", 1e6),
    "charge_empty_design": ("charge_empty_design", 1e6),
    "charge_full": ("charge_full", 1e6),
    "charge_full_design": ("charge_full_design", 1e6),
    "charge_now": ("charge_ampere", 1e6),
    "charge_term_current": ("charge_term_current", 1e6),
    "constant_charge_current": ("constant_charge_current", 1e6),
    "constant_charge_current_max": ("constant_charge_current_max", 1e6),
    "constant_charge_voltage": ("constant_charge_voltage", 1e6),
    "constant_charge_voltage_max": ("constant_charge_voltage_max", 1e6),
    "precharge_current": ("precharge_current", 1e6),
    "input_current_limit": ("input_current_limit", 1e6),
    "power_now": ("power_watt", 1e6),
    "temp": ("temp_celsius", 10.0),
    "temp_alert_max": ("temp_alert_max_celsius", 10.0),
    "temp_alert_min": ("temp_alert_min_celsius", 10.0),
    "temp_ambient": ("temp_ambient_celsius", 10.0),
    "temp_ambient_max": ("temp_ambient_max_celsius", 10.0),
    "temp_ambient_min": ("temp_ambient_min_celsius", 10.0),
    "temp_max": ("temp_max_celsius", 10.0),
    "temp_min": ("temp_min_celsius", 10.0),
}

# Text attributes that become info labels, in upstream's label naming.
INFO_LABELS = ("capacity_level", "charge_type", "health", "manufacturer", "model_name", "serial_number",
               "status", "technology", "type", "usb_type", "scope")


@dataclass
class PowerSupply:
    """One supply of /sys/class/power_supply/: its numeric and text attributes."""

    name: str
    numbers: dict[str, int] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)


def parse_power_supply(name: str, attributes: dict[str, str]) -> PowerSupply:
    supply = PowerSupply(name)
    for attr, value in attributes.items():
        if attr in NUMERIC:
            supply.numbers[attr] = procfs_pint64(value)
        elif attr in INFO_LABELS:
            supply.text[attr] = value
    return supply


class PowersupplyclassCollector:
    def __init__(self, context: NodeContext, ignored: re.Pattern[str]) -> None:
        self.context = context
        self.ignored = ignored

    def read_attributes(self, directory: str) -> dict[str, str]:
        return read_attribute_files(directory, SKIPPED_ERRNOS)

    def supplies(self) -> list[PowerSupply]:
        base = self.context.sys("class", "power_supply")
        result = []
        try:
            for name in sorted(os.listdir(base)):
                supply = parse_power_supply(name, self.read_attributes(os.path.join(base, name)))
                if not self.ignored.search(name):
                    result.append(supply)
        except FileNotFoundError as err:
            # Upstream: the class directory or a supply's directory missing means "no data".
            raise NoDataError(f"power_supply class not readable: {err.filename}") from err
        return result

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        families = FamilySet()
        info = GaugeFamily("node_power_supply_info", "info of /sys/class/power_supply/<power_supply>.")
        for supply in self.supplies():
            for attr, (suffix, divisor) in NUMERIC.items():
                if attr not in supply.numbers:
                    continue
                family = families.gauge(f"node_power_supply_{suffix}",
                                        f"{suffix} value of /sys/class/power_supply/<power_supply>.", ["power_supply"])
                value = float(supply.numbers[attr])
                family.add_metric([supply.name], value / divisor if divisor != 1.0 else value)
            labels = {"power_supply": supply.name}
            for label in INFO_LABELS:
                if supply.text.get(label):
                    labels[label] = to_valid_utf8(supply.text[label])
            info.samples.append(Sample("node_power_supply_info", labels, 1.0, None, None, None))
        return [*families.families(), info]


@dataclass(frozen=True)
class PowersupplyclassOptions:
    """The powersupplyclass collector's flags (``--collector.powersupply.*``)."""

    ignored_supplies: str = option("--collector.powersupply.ignored-supplies", "^$",
                                   "Regexp of power supplies to ignore for powersupplyclass collector.")


def build(context: NodeContext) -> PowersupplyclassCollector:
    pattern = context.options(PowersupplyclassOptions).ignored_supplies
    return PowersupplyclassCollector(context, compile_go_regex(pattern, "--collector.powersupply.ignored-supplies"))


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Exposes Power Supply statistics from /sys/class/power_supply", options=PowersupplyclassOptions,
    source="/sys/class/power_supply/<supply>/",
    families=(
        FamilyDoc("node_power_supply_info", source="/sys/class/power_supply/<supply>/ text attributes"),
        FamilyDoc("node_power_supply_<Attribute>", source="/sys/class/power_supply/<supply>/<attribute>"),
    ),
)
