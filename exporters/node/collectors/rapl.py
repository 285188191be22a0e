"""rapl: Intel RAPL energy counters from /sys/class/powercap/<zone>/energy_uj.

``node_rapl_<zone>_joules_total{index,path}``, or with
``--collector.rapl.enable-zone-label`` one ``node_rapl_joules_total{index,path,rapl_zone}``.
The ``path`` label is the zone directory under ``--path.sysfs``, as upstream reports it.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec, FamilyDoc, NoDataError
from exporters.core.metrics import CounterFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._files import go_join, read_text
from exporters.node.collectors._labels import sanitize_metric_name, without_invalid_utf8
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "rapl"


@dataclass(frozen=True)
class RaplZone:
    """One powercap zone (/sys/class/powercap/intel-rapl:N[:M])."""

    name: str
    index: int
    path: str


def index_and_name(counts: dict[str, int], name: str) -> tuple[int, str]:
    """``package-0`` -> (0, "package"); a name without an index gets its usage count."""
    parts = name.split("-")
    if len(parts) == 2 and re.fullmatch(r"[+-]?[0-9]+", parts[1]):
        return int(parts[1]), parts[0]
    return counts.get(name, 0), name


def parse_uint_file(text: str) -> int:
    return go_parse_uint(text.strip(), 10)


class RaplCollector:
    def __init__(self, context: NodeContext, zone_label: bool = False) -> None:
        self.context = context
        self.zone_label = zone_label

    def zones(self) -> list[RaplZone]:
        base = go_join(self.context.sysfs, "class", "powercap")
        zones = []
        counts: dict[str, int] = {}
        for entry in sorted(os.listdir(base)):
            directory = go_join(base, entry)
            try:
                name = read_text(os.path.join(directory, "name"), errors="surrogateescape").strip()
            except OSError:
                continue
            index, name = index_and_name(counts, name)
            parse_uint_file(read_text(os.path.join(directory, "max_energy_range_uj")))
            zones.append(RaplZone(name, index, directory))
            counts[name] = index + 1
        return zones

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterator[Metric]:
        try:
            zones = self.zones()
        except (FileNotFoundError, PermissionError) as err:
            raise NoDataError(f"platform doesn't have readable powercap files: {err}") from err
        for zone in zones:
            try:
                joules = parse_uint_file(read_text(os.path.join(zone.path, "energy_uj"))) / 1000000.0
            except OSError as err:
                if err.errno in (errno.EACCES, errno.EPERM):
                    raise NoDataError(f"can't access energy_uj file: {err}") from err
                raise
            # One family per zone, yielded at once: a later unreadable zone keeps these (as upstream).
            if self.zone_label:
                family = CounterFamily("node_rapl_joules", "Current RAPL value in joules",
                                             labels=["index", "path", "rapl_zone"])
                family.add_metric([str(zone.index), zone.path, zone.name], joules)
            else:
                metric = f"node_rapl_{sanitize_metric_name(zone.name)}_joules"
                family = CounterFamily(metric, f"Current RAPL {zone.name} value in joules",
                                             labels=["index", "path"])
                family.add_metric([str(zone.index), zone.path], joules)
            yield family


@dataclass(frozen=True)
class RaplOptions:
    """The rapl collector's flags (``--collector.rapl.*``)."""

    # upstream's help text, copied from the systemd collector's (sic)
    zone_label: bool = option("--collector.rapl.enable-zone-label", False,
                              "Enables service unit metric unit_start_time_seconds")


def build(context: NodeContext) -> RaplCollector:
    return RaplCollector(context, zone_label=context.options(RaplOptions).zone_label)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True, help="Exposes various statistics from /sys/class/powercap.",
    options=RaplOptions,
    source="/sys/class/powercap/<zone>/energy_uj",
    families=(FamilyDoc("node_rapl_<Zone>_joules_total"),),
)
