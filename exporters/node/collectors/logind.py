"""logind: ``node_logind_sessions`` from systemd-logind over the system bus (node_exporter v1.7.0 logind_linux.go).

Sessions are counted per (seat, remote, type, class); every combination of the known values
is exported for every seat plus the empty seat of remote sessions, 0 where none matches.
A type or class logind adds later counts as "other".
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._dbus import (
    Call,
    DBusConnection,
    DBusError,
    get_property,
    system_bus_address,
    variant,
)
from exporters.node.context import NodeContext

NAME = "logind"
LOGGER = logging.getLogger("exporters.node")

LOGIN1 = "org.freedesktop.login1"
MANAGER_PATH = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"
SESSION = "org.freedesktop.login1.Session"
# logind's values as of systemd 229; the first of each list is the fallback.
REMOTE_VALUES = ("true", "false")
TYPE_VALUES = ("other", "unspecified", "tty", "x11", "wayland", "mir", "web")
CLASS_VALUES = ("other", "user", "greeter", "lock-screen", "background")
# The session properties read, with their D-Bus signatures.
SESSION_PROPERTIES: tuple[tuple[str, str], ...] = (("Remote", "b"), ("Type", "s"), ("Class", "s"))
TIMEOUT = 10.0

SessionKey = tuple[str, str, str, str]  # seat, remote, type, class


@dataclass(frozen=True)
class SessionEntry:
    """One row of ``ListSessions``."""

    session_id: str
    seat: str
    path: str


def parse_seats(body: Sequence[Any]) -> list[str]:
    """``ListSeats``' ``a(so)`` as seat ids, plus the empty seat of remote sessions (SSH)."""
    if len(body) != 1 or not isinstance(body[0], list):
        raise ValueError("ListSeats: unexpected reply")
    seats = [row[0] for row in body[0] if isinstance(row, tuple) and len(row) == 2 and isinstance(row[0], str)]
    return [*seats, ""]


def parse_sessions(body: Sequence[Any]) -> list[SessionEntry]:
    """``ListSessions``' ``a(susso)``; rows of another shape are skipped."""
    if len(body) != 1 or not isinstance(body[0], list):
        raise ValueError("ListSessions: unexpected reply")
    return [
        SessionEntry(session_id=row[0], seat=row[3], path=row[4])
        for row in body[0]
        if isinstance(row, tuple) and len(row) == 5 and all(isinstance(row[i], str) for i in (0, 3, 4))
    ]


def known_or_other(value: str, known: Sequence[str]) -> str:
    return value if value in known else "other"


def session_key(seat: str, remote: object, session_type: object, session_class: object) -> SessionKey | None:
    """The labels a session counts under, or None when a property has an unexpected type."""
    if not isinstance(remote, bool) or not isinstance(session_type, str) or not isinstance(session_class, str):
        return None
    return (seat, "true" if remote else "false", known_or_other(session_type, TYPE_VALUES),
            known_or_other(session_class, CLASS_VALUES))


def sessions_family(seats: Sequence[str], counts: Counter[SessionKey]) -> GaugeFamily:
    family = GaugeFamily("node_logind_sessions", "Number of sessions registered in logind.",
                         labels=["class", "remote", "seat", "type"])
    for remote in REMOTE_VALUES:
        for session_type in TYPE_VALUES:
            for session_class in CLASS_VALUES:
                for seat in dict.fromkeys(seats):
                    family.add_metric([session_class, remote, seat, session_type],
                                      counts[(seat, remote, session_type, session_class)])
    return family


class LogindCollector:
    def __init__(self, bus_address: str, timeout: float = TIMEOUT) -> None:
        self.bus_address = bus_address
        self.timeout = timeout

    def collect(self) -> Iterable[Metric]:
        try:
            conn = DBusConnection.open(self.bus_address, hello=True, timeout=self.timeout)
        except (OSError, DBusError, ValueError) as err:
            raise RuntimeError(f"unable to connect to dbus: {err}") from err
        with conn:
            try:
                seats = parse_seats(conn.call(Call(LOGIN1, MANAGER_PATH, MANAGER, "ListSeats")))
            except (DBusError, ValueError) as err:
                raise RuntimeError(f"unable to get seats: {err}") from err
            try:
                sessions = parse_sessions(conn.call(Call(LOGIN1, MANAGER_PATH, MANAGER, "ListSessions")))
            except (DBusError, ValueError) as err:
                raise RuntimeError(f"unable to get sessions: {err}") from err
            replies = conn.call_many([get_property(LOGIN1, s.path, SESSION, prop)
                                      for s in sessions for prop, _ in SESSION_PROPERTIES])
        counts: Counter[SessionKey] = Counter()
        width = len(SESSION_PROPERTIES)
        for index, session in enumerate(sessions):
            try:
                values = [variant(reply, signature) for reply, (_, signature)
                          in zip(replies[index * width:(index + 1) * width], SESSION_PROPERTIES, strict=True)]
            except DBusError as err:
                LOGGER.debug("couldn't get session", extra={"collector": NAME, "session": session.session_id,
                                                             "err": str(err)})
                continue
            key = session_key(session.seat, *values)
            if key is not None:
                counts[key] += 1
        yield sessions_family(seats, counts)


def build(context: NodeContext) -> LogindCollector:
    return LogindCollector(system_bus_address())


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes session counts from logind.",
    source="systemd-logind over the system D-Bus (org.freedesktop.login1: ListSeats, ListSessions, session properties)",
)
