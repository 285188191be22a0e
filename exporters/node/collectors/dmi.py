"""dmi: Desktop Management Interface (SMBIOS) strings from ``/sys/class/dmi/id/``.

Read once at start, as node_exporter does: the values do not change until a reboot.
Files only root may read (serial numbers, UUID) are left out when not readable.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.flags import ConfigError
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import sys_read_file
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "dmi"
# sysfs file -> label
FILES: dict[str, str] = {
    "bios_date": "bios_date",
    "bios_release": "bios_release",
    "bios_vendor": "bios_vendor",
    "bios_version": "bios_version",
    "board_asset_tag": "board_asset_tag",
    "board_name": "board_name",
    "board_serial": "board_serial",
    "board_vendor": "board_vendor",
    "board_version": "board_version",
    "chassis_asset_tag": "chassis_asset_tag",
    "chassis_serial": "chassis_serial",
    "chassis_vendor": "chassis_vendor",
    "chassis_version": "chassis_version",
    "product_family": "product_family",
    "product_name": "product_name",
    "product_serial": "product_serial",
    "product_sku": "product_sku",
    "product_uuid": "product_uuid",
    "product_version": "product_version",
    "sys_vendor": "system_vendor",
}
HELP = (
    "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, "
    "board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, "
    "chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, "
    "product_sku, product_uuid, product_version, system_vendor if provided by DMI."
)
_INVALID_RUN = re.compile("\ufffd+")


def read_dmi(path: str) -> dict[str, str]:
    """Label -> value for every readable DMI string (regular files only, as in sysfs)."""
    values: dict[str, str] = {}
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False) or entry.name in ("modalias", "uevent"):
            continue
        try:
            text = sys_read_file(entry.path)
        except PermissionError:
            continue
        label = FILES.get(entry.name)
        if label is not None:
            # one replacement character per run of invalid UTF-8, as Go's strings.ToValidUTF8
            values[label] = _INVALID_RUN.sub("\ufffd", text)
    return values


class DmiCollector:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def collect(self) -> Iterable[Metric]:
        if not self.values:
            raise NoDataError("no DMI information")
        labels = sorted(self.values)
        info = GaugeFamily("node_dmi_info", HELP, labels=labels)
        info.add_metric([self.values[k] for k in labels], 1.0)
        return [info]


def build(context: NodeContext) -> DmiCollector:
    path = context.sys("class", "dmi", "id")
    try:
        values = read_dmi(path)
    except FileNotFoundError as err:
        LOGGER.debug("Platform does not support Desktop Management Interface (DMI) information",
                     extra={"collector": NAME, "err": str(err)})
        values = {}
    except OSError as err:
        raise ConfigError(f"failed to read Desktop Management Interface (DMI) information: {err}") from None
    return DmiCollector(values)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Expose Desktop Management Interface (DMI) info from /sys/class/dmi/id/",
    source="/sys/class/dmi/id/ (read once at start)",
)
