"""thermal_zone: /sys/class/thermal zones and cooling devices.

``node_thermal_zone_temp{zone,type}`` (millidegrees -> degrees) and
``node_cooling_device_{cur,max}_state{name,type}``. A zone whose sensor answers ENODATA
is skipped; a missing or unreadable class directory is "no data".
"""

from __future__ import annotations

import errno
import glob
import logging
import os
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text, sys_read_file
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._strconv import go_parse_int, go_parse_uint
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "thermal_zone"


class ThermalZone(NamedTuple):
    name: str
    type: str
    temp: int


class CoolingDevice(NamedTuple):
    name: str
    type: str
    cur_state: int
    max_state: int


def parse_temp(text: str) -> int:
    """``temp`` file: a decimal integer in millidegrees Celsius (``ReadIntFromFile``)."""
    return go_parse_int(text.strip(), 10)


def parse_state(text: str) -> int:
    """``cur_state``/``max_state``: decimal, possibly -1 (intel_powerclamp)."""
    return go_parse_int(text, 10)


class ThermalZoneCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def read_zone(self, path: str) -> ThermalZone:
        zone_type = sys_read_file(os.path.join(path, "type"), errors="surrogateescape")
        sys_read_file(os.path.join(path, "policy"), errors="surrogateescape")  # required by procfs
        temp = parse_temp(read_text(os.path.join(path, "temp")))
        # Optional attributes: procfs reads them too, and a broken one fails the zone.
        try:
            sys_read_file(os.path.join(path, "mode"), errors="surrogateescape")
        except (FileNotFoundError, PermissionError):
            pass
        try:
            go_parse_uint(read_text(os.path.join(path, "passive")).strip(), 10)
        except (FileNotFoundError, PermissionError):
            pass
        return ThermalZone(os.path.basename(path).removeprefix("thermal_zone"), zone_type, temp)

    def zones(self) -> list[ThermalZone]:
        zones = []
        for path in sorted(glob.glob(self.context.sys("class/thermal/thermal_zone[0-9]*"))):
            try:
                zones.append(self.read_zone(path))
            except OSError as err:
                if err.errno == errno.ENODATA:
                    continue
                if err.errno in (errno.ENOENT, errno.EACCES, errno.EPERM):
                    raise NoDataError(f"could not read thermal zone stats: {err}") from err
                raise
        return zones

    def cooling_devices(self) -> list[CoolingDevice]:
        devices = []
        for path in sorted(glob.glob(self.context.sys("class/thermal/cooling_device[0-9]*"))):
            cd_type = sys_read_file(os.path.join(path, "type"), errors="surrogateescape")
            max_state = parse_state(sys_read_file(os.path.join(path, "max_state"), errors="surrogateescape"))
            cur_state = parse_state(sys_read_file(os.path.join(path, "cur_state"), errors="surrogateescape"))
            devices.append(CoolingDevice(os.path.basename(path).removeprefix("cooling_device"), cd_type,
                                         cur_state, max_state))
        return devices

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        temp = GaugeFamily("node_thermal_zone_temp", "Zone temperature in Celsius", labels=["zone", "type"])
        for zone in self.zones():
            temp.add_metric([zone.name, zone.type], zone.temp / 1000.0)
        yield temp
        cur = GaugeFamily("node_cooling_device_cur_state", "Current throttle state of the cooling device",
                                labels=["name", "type"])
        top = GaugeFamily("node_cooling_device_max_state", "Maximum throttle state of the cooling device",
                                labels=["name", "type"])
        for device in self.cooling_devices():
            cur.add_metric([device.name, device.type], float(device.cur_state))
            top.add_metric([device.name, device.type], float(device.max_state))
        yield cur
        yield top


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=ThermalZoneCollector, enabled_by_default=True,
    help="Exposes thermal zone & cooling device statistics "
    "from /sys/class/thermal.",
    source="/sys/class/thermal/thermal_zone<N>/ and cooling_device<N>/",
)
