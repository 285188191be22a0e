"""systemd: ``node_systemd_*`` from systemd's manager over D-Bus (node_exporter v1.7.0 systemd_linux.go).

The system bus by default; ``--collector.systemd.private`` talks to /run/systemd/private
directly (root only, no bus daemon needed). ``ListUnits`` gives every unit's state; the
per-unit properties (service type, restarts, tasks, start time, timer and socket counters)
are read with ``Properties.Get``, pipelined (see ``_dbus``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric, exact_gauge
from exporters.core.options import option
from exporters.node.collectors._dbus import (
    SYSTEMD_PRIVATE,
    Call,
    DBusConnection,
    DBusError,
    get_property,
    system_bus_address,
    variant,
)
from exporters.node.collectors._flags import compile_go_regex, with_deprecated_alias
from exporters.node.context import NodeContext

NAME = "systemd"
LOGGER = logging.getLogger("exporters.node")

SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
UNIT_STATES = ("active", "activating", "deactivating", "inactive", "failed")
# The Manager's SystemState and the timers' LastTriggerUSec appeared in systemd 212.
MIN_VERSION_SYSTEM_STATE = 212
VERSION_RE = re.compile(r"[0-9]{3,}(\.[0-9]+)?")
DEFAULT_UNIT_INCLUDE = ".+"
DEFAULT_UNIT_EXCLUDE = r".+\.(automount|device|mount|scope|slice)"
# TasksCurrent / TasksMax when there is no value or no limit.
NO_VALUE = (1 << 64) - 1
# One collection (connect, list, every property) must finish within this.
TIMEOUT = 10.0


@dataclass(frozen=True)
class Unit:
    """One row of ``ListUnits``: the fields the collector uses."""

    name: str
    load_state: str
    active_state: str
    path: str


@dataclass(frozen=True)
class UnitProperty:
    """A property read for every filtered unit whose name ends in ``suffix``.

    ``option``: the flag that switches the read on (None: always). ``active_only``: units
    not active are not asked (their value is 0).
    """

    key: str
    suffix: str
    interface: str
    name: str
    signature: str
    option: str | None = None
    active_only: bool = False
    min_version: float = 0.0


SERVICE = "org.freedesktop.systemd1.Service"
SOCKET = "org.freedesktop.systemd1.Socket"
UNIT_PROPERTIES: tuple[UnitProperty, ...] = (
    UnitProperty("type", ".service", SERVICE, "Type", "s"),
    UnitProperty("type", ".mount", "org.freedesktop.systemd1.Mount", "Type", "s"),
    # NRestarts: systemd 235
    UnitProperty("restarts", ".service", SERVICE, "NRestarts", "u", option="restarts"),
    UnitProperty("start_time", "", "org.freedesktop.systemd1.Unit", "ActiveEnterTimestamp", "t",
                 option="start_time", active_only=True),
    UnitProperty("tasks_current", ".service", SERVICE, "TasksCurrent", "t", option="tasks"),
    UnitProperty("tasks_max", ".service", SERVICE, "TasksMax", "t", option="tasks"),
    UnitProperty("last_trigger", ".timer", "org.freedesktop.systemd1.Timer", "LastTriggerUSec", "t",
                 min_version=MIN_VERSION_SYSTEM_STATE),
    UnitProperty("accepted", ".socket", SOCKET, "NAccepted", "u"),
    UnitProperty("connections", ".socket", SOCKET, "NConnections", "u"),
    # NRefused: systemd 239
    UnitProperty("refused", ".socket", SOCKET, "NRefused", "u"),
)


@dataclass(frozen=True)
class SystemdOptions:
    """The systemd collector's flags (``--collector.systemd.*``)."""

    # the unit filters are None when not given: the default applies unless a deprecated spelling is used
    unit_include: str | None = option(
        "--collector.systemd.unit-include", None,
        "Regexp of systemd units to include. Units must both match include and not match exclude to be included.")
    unit_whitelist: str = option("--collector.systemd.unit-whitelist", "",
                                 "DEPRECATED: Use --collector.systemd.unit-include", hidden=True)
    unit_exclude: str | None = option(
        "--collector.systemd.unit-exclude", None,
        "Regexp of systemd units to exclude. Units must both match include and not match exclude to be included.")
    unit_blacklist: str = option("--collector.systemd.unit-blacklist", "",
                                 "DEPRECATED: Use collector.systemd.unit-exclude", hidden=True)
    private: bool = option("--collector.systemd.private", False,
                           "Establish a private, direct connection to systemd without dbus (Strongly discouraged since "
                           "it requires root. For testing purposes only).", hidden=True)
    tasks: bool = option("--collector.systemd.enable-task-metrics", False,
                         "Enables service unit tasks metrics unit_tasks_current and unit_tasks_max")
    restarts: bool = option("--collector.systemd.enable-restarts-metrics", False,
                            "Enables service unit metric service_restart_total")
    start_time: bool = option("--collector.systemd.enable-start-time-metrics", False,
                              "Enables service unit metric unit_start_time_seconds")

    def enabled(self, option: str | None) -> bool:
        return option is None or bool(getattr(self, option))


def parse_version(text: str) -> tuple[float, str]:
    """The Manager's ``Version`` as (number, full string); (0, "") when it has no number."""
    found = VERSION_RE.search(text)
    if found is None:
        return 0.0, ""
    return float(found.group(0)), text


def parse_units(body: Sequence[Any]) -> list[Unit]:
    """``ListUnits``' reply ``a(ssssssouso)``; rows of another shape are skipped."""
    if len(body) != 1 or not isinstance(body[0], list):
        raise ValueError("ListUnits: unexpected reply")
    units: list[Unit] = []
    for row in body[0]:
        if not isinstance(row, tuple) or len(row) != 10 or not all(isinstance(v, str) for v in row[:7]):
            continue
        units.append(Unit(name=row[0], load_state=row[2], active_state=row[3], path=row[6]))
    return units


def summarize_units(units: Iterable[Unit]) -> dict[str, float]:
    """Units per active state: the five known states always, any other state seen too."""
    summary = dict.fromkeys(UNIT_STATES, 0.0)
    for unit in units:
        summary[unit.active_state] = summary.get(unit.active_state, 0.0) + 1.0
    return summary


def filter_units(units: Iterable[Unit], include: re.Pattern[str], exclude: re.Pattern[str]) -> list[Unit]:
    return [u for u in units
            if include.search(u.name) and not exclude.search(u.name) and u.load_state == "loaded"]


def unit_reads(units: Sequence[Unit], options: SystemdOptions, version: float) -> list[tuple[Unit, UnitProperty]]:
    """Which property of which unit this scrape reads."""
    reads: list[tuple[Unit, UnitProperty]] = []
    for prop in UNIT_PROPERTIES:
        if not options.enabled(prop.option) or version < prop.min_version:
            continue
        for unit in units:
            if unit.name.endswith(prop.suffix) and not (prop.active_only and unit.active_state != "active"):
                reads.append((unit, prop))
    return reads


Values = Mapping[tuple[str, str], Any]


def unit_families(units: Sequence[Unit], values: Values, options: SystemdOptions) -> list[Metric]:
    """The per-unit families from the properties read (``values``: (unit, key) -> value)."""
    state = GaugeFamily("node_systemd_unit_state", "Systemd unit", labels=["name", "state", "type"])
    restarts = CounterFamily("node_systemd_service_restart_total", "Service unit count of Restart triggers",
                             labels=["name"])
    start_time = GaugeFamily("node_systemd_unit_start_time_seconds",
                             "Start time of the unit since unix epoch in seconds.", labels=["name"])
    tasks_current = GaugeFamily("node_systemd_unit_tasks_current", "Current number of tasks per Systemd unit",
                                labels=["name"])
    tasks_max = GaugeFamily("node_systemd_unit_tasks_max", "Maximum number of tasks per Systemd unit",
                            labels=["name"])
    last_trigger = GaugeFamily("node_systemd_timer_last_trigger_seconds", "Seconds since epoch of last trigger.",
                               labels=["name"])
    accepted = CounterFamily("node_systemd_socket_accepted_connections_total",
                             "Total number of accepted socket connections", labels=["name"])
    current = GaugeFamily("node_systemd_socket_current_connections", "Current number of socket connections",
                          labels=["name"])
    # a gauge upstream, whatever its name says
    refused = exact_gauge("node_systemd_socket_refused_connections_total",
                          "Total number of refused socket connections", labels=["name"])
    for unit in units:
        name = unit.name
        unit_type = str(values.get((name, "type"), ""))
        for state_name in UNIT_STATES:
            state.add_metric([name, state_name, unit_type], 1.0 if state_name == unit.active_state else 0.0)
        if (name, "restarts") in values:
            restarts.add_metric([name], values[(name, "restarts")])
    if options.start_time:
        for unit in units:
            if unit.active_state != "active":
                start_time.add_metric([unit.name], 0.0)
            elif (unit.name, "start_time") in values:
                start_time.add_metric([unit.name], values[(unit.name, "start_time")] / 1e6)
    for unit in units:
        for key, family in (("tasks_current", tasks_current), ("tasks_max", tasks_max)):
            got = values.get((unit.name, key))
            if got is not None and got != NO_VALUE:
                family.add_metric([unit.name], got)
    for unit in units:
        if (unit.name, "last_trigger") in values:
            last_trigger.add_metric([unit.name], values[(unit.name, "last_trigger")] / 1e6)
    for unit in units:
        # upstream stops at the first socket counter it cannot read; NRefused is optional
        if (unit.name, "accepted") not in values:
            continue
        accepted.add_metric([unit.name], values[(unit.name, "accepted")])
        if (unit.name, "connections") not in values:
            continue
        current.add_metric([unit.name], values[(unit.name, "connections")])
        if (unit.name, "refused") in values:
            refused.add_metric([unit.name], values[(unit.name, "refused")])
    return [state, restarts, start_time, tasks_current, tasks_max, last_trigger, accepted, current, refused]


class SystemdCollector:
    def __init__(self, options: SystemdOptions, bus_address: str, timeout: float = TIMEOUT) -> None:
        self.options = options
        self.include, self.exclude = unit_patterns(options)
        self.bus_address = bus_address
        self.timeout = timeout

    def connect(self) -> DBusConnection:
        return DBusConnection.open(self.bus_address, hello=not self.options.private, timeout=self.timeout)

    def collect(self) -> Iterable[Metric]:
        try:
            conn = self.connect()
        except (OSError, DBusError, ValueError) as err:
            raise RuntimeError(f"couldn't get dbus connection: {err}") from err
        with conn:
            try:
                raw_version = str(variant(conn.call_many([get_property(SYSTEMD, MANAGER_PATH, MANAGER, "Version")])[0],
                                          "s"))
                version, full = parse_version(raw_version)
            except DBusError:
                LOGGER.debug("Unable to get systemd version property, defaulting to 0", extra={"collector": NAME})
                version, full = 0.0, ""
            yield _one(GaugeFamily("node_systemd_version", "Detected systemd version", labels=["version"]),
                       [full], version)
            try:
                units = parse_units(conn.call(Call(SYSTEMD, MANAGER_PATH, MANAGER, "ListUnits")))
            except (DBusError, ValueError) as err:
                raise RuntimeError(f"couldn't get units: {err}") from err
            summary = GaugeFamily("node_systemd_units", "Summary of systemd unit states", labels=["state"])
            for state_name, count in summarize_units(units).items():
                summary.add_metric([state_name], count)
            yield summary
            filtered = filter_units(units, self.include, self.exclude)
            reads = unit_reads(filtered, self.options, version)
            replies = conn.call_many([get_property(SYSTEMD, u.path, p.interface, p.name) for u, p in reads])
            values: dict[tuple[str, str], Any] = {}
            for (unit, prop), reply in zip(reads, replies, strict=True):
                try:
                    values[(unit.name, prop.key)] = variant(reply, prop.signature)
                except DBusError as err:
                    LOGGER.debug(f"couldn't get unit {prop.name}",
                                 extra={"collector": NAME, "unit": unit.name, "err": str(err)})
            yield from unit_families(filtered, values, self.options)
            if version >= MIN_VERSION_SYSTEM_STATE:
                yield system_running(conn)


def system_running(conn: DBusConnection) -> Metric:
    """``node_systemd_system_running``: 1 when the Manager's SystemState is "running"."""
    try:
        state = variant(conn.call_many([get_property(SYSTEMD, MANAGER_PATH, MANAGER, "SystemState")])[0], "s")
    except DBusError as err:
        raise RuntimeError(f"couldn't get system state: {err}") from err
    return GaugeFamily("node_systemd_system_running",
                       "Whether the system is operational (see 'systemctl is-system-running')",
                       value=1.0 if state == "running" else 0.0)


def _one(family: GaugeFamily, labels: Sequence[str], value: float) -> GaugeFamily:
    family.add_metric(labels, value)
    return family


def unit_patterns(options: SystemdOptions) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The include and exclude unit filters; the deprecated whitelist/blacklist spellings still work (with a
    warning). Anchored as upstream does: the whole unit name must match."""
    include = with_deprecated_alias(options.unit_include, options.unit_whitelist, "--collector.systemd.unit-include",
                                    "--collector.systemd.unit-whitelist", DEFAULT_UNIT_INCLUDE, NAME)
    exclude = with_deprecated_alias(options.unit_exclude, options.unit_blacklist, "--collector.systemd.unit-exclude",
                                    "--collector.systemd.unit-blacklist", DEFAULT_UNIT_EXCLUDE, NAME)
    LOGGER.info("Parsed flag --collector.systemd.unit-include", extra={"collector": NAME, "flag": include})
    LOGGER.info("Parsed flag --collector.systemd.unit-exclude", extra={"collector": NAME, "flag": exclude})
    return (compile_go_regex(f"^(?:{include})$", "--collector.systemd.unit-include"),
            compile_go_regex(f"^(?:{exclude})$", "--collector.systemd.unit-exclude"))


def build(context: NodeContext) -> SystemdCollector:
    options = context.options(SystemdOptions)
    return SystemdCollector(options, SYSTEMD_PRIVATE if options.private else system_bus_address())


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes service and system status from systemd.",
    options=SystemdOptions,
    source="systemd's manager over D-Bus (ListUnits, unit properties, Version, SystemState)",
)
