"""time: ``node_time_seconds``, ``node_time_zone_offset_seconds{time_zone}`` and the clocksources
of /sys/devices/system/clocksource (``node_time_clocksource_{available,current}_info``)."""

from __future__ import annotations

import glob
import os
import time as pytime
from collections.abc import Callable, Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import sys_read_file
from exporters.node.context import NodeContext

NAME = "time"


class ClockSource(NamedTuple):
    available: list[str]
    current: str


def read_clocksources(context: NodeContext) -> list[ClockSource]:
    """Every clocksourceN directory, in glob (lexical) order; a missing file fails them all."""
    pattern = os.path.join(glob.escape(context.sys("devices/system/clocksource")), "clocksource[0-9]*")
    out = []
    for path in sorted(glob.glob(pattern)):
        available = sys_read_file(os.path.join(path, "available_clocksource"))
        current = sys_read_file(os.path.join(path, "current_clocksource"))
        out.append(ClockSource(available.split(), current))
    return out


def zone(now: float) -> tuple[str, int]:
    """The local time zone's abbreviation and offset east of UTC at ``now``, like Go's Time.Zone()."""
    local = pytime.localtime(now)
    return str(local.tm_zone), int(local.tm_gmtoff)


class TimeCollector:
    def __init__(self, context: NodeContext, clock: Callable[[], float] = pytime.time) -> None:
        self.context = context
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        now = self.clock()
        yield GaugeFamily("node_time_seconds", "System time in seconds since epoch (1970).", value=now)
        name, offset = zone(now)
        zone_family = GaugeFamily("node_time_zone_offset_seconds", "System time zone offset in seconds.",
                                        labels=["time_zone"])
        zone_family.add_metric([name], float(offset))
        yield zone_family
        sources = read_clocksources(self.context)
        available = GaugeFamily("node_time_clocksource_available_info",
                                      "Available clocksources read from '/sys/devices/system/clocksource'.",
                                      labels=["device", "clocksource"])
        current = GaugeFamily("node_time_clocksource_current_info",
                                    "Current clocksource read from '/sys/devices/system/clocksource'.",
                                    labels=["device", "clocksource"])
        for index, source in enumerate(sources):
            # The label is the position in the list, as upstream, not the directory's number.
            for name in source.available:
                available.add_metric([str(index), name], 1.0)
            current.add_metric([str(index), source.current], 1.0)
        yield available
        yield current


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=TimeCollector, enabled_by_default=True, help="Exposes the current system time.",
    source="the system clock and time zone; /sys/devices/system/clocksource/clocksource<N>/",
)
