"""logind collector: parsing tables, a logind played at the socket boundary (odd values), and a
real systemd-logind (sandboxed) side by side with node_exporter 1.9.0."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from jeepney import HeaderFields, Message

from exporters.node.collectors import logind
from exporters.node.collectors.logind import LogindCollector
from tests.conftest import reference_binary
from tests.node.collected import samples, value
from tests.node.dbus_peer import dbus_peer, reply
from tests.node.live_scrape import Scrape, get
from tests.node.systemd_sandbox import Sandbox, systemd_sandbox

pytestmark = pytest.mark.timeout(120)


def test_parse_seats_adds_the_empty_seat() -> None:
    assert logind.parse_seats(([("seat0", "/s0"), ("bad",), (1, "/x")],)) == ["seat0", ""]
    assert logind.parse_seats(([],)) == [""]
    with pytest.raises(ValueError):
        logind.parse_seats(("x",))


def test_parse_sessions_skips_rows_of_another_shape() -> None:
    rows = [("c1", 0, "root", "", "/s/c1"), ("c2", 1000, "u", "seat0", "/s/c2"), ("c3",), (1, 2, 3, 4, 5)]
    assert [(s.session_id, s.seat) for s in logind.parse_sessions((rows,))] == [("c1", ""), ("c2", "seat0")]
    with pytest.raises(ValueError):
        logind.parse_sessions(())


@pytest.mark.parametrize(("remote", "session_type", "session_class", "expected"), [
    (True, "tty", "user", ("seat0", "true", "tty", "user")),
    (False, "wayland", "greeter", ("seat0", "false", "wayland", "greeter")),
    (False, "brand-new-type", "manager", ("seat0", "false", "other", "other")),
    ("yes", "tty", "user", None),
    (True, 3, "user", None),
    (True, "tty", None, None),
])
def test_session_key(remote: object, session_type: object, session_class: object,
                     expected: tuple[str, ...] | None) -> None:
    assert logind.session_key("seat0", remote, session_type, session_class) == expected


def test_every_combination_for_every_seat() -> None:
    counts = Counter({("seat0", "true", "tty", "user"): 2, ("nowhere", "true", "tty", "user"): 5})
    found = samples([logind.sessions_family(["seat0", ""], counts)])
    assert len(found) == 2 * len(logind.TYPE_VALUES) * len(logind.CLASS_VALUES) * 2
    assert value(found, "node_logind_sessions", seat="seat0", remote="true", type="tty", **{"class": "user"}) == 2
    assert sum(found.values()) == 2  # a session on a seat not listed is not counted


# ---- a logind played at the socket boundary

SESSIONS = {
    # path -> (Remote, Type, Class) variants
    "/org/freedesktop/login1/session/a": (("b", True), ("s", "tty"), ("s", "user")),
    "/org/freedesktop/login1/session/b": (("b", False), ("s", "mir2"), ("s", "background")),
    "/org/freedesktop/login1/session/c": (("s", "true"), ("s", "tty"), ("s", "user")),  # Remote not a bool
    "/org/freedesktop/login1/session/gone": None,  # vanished between ListSessions and Get
}


def _logind(message: Message, count: int) -> bytes:
    member = message.header.fields.get(HeaderFields.member)
    if member == "Hello":
        return reply(message, "s", (":1.9",), serial=count)
    if member == "ListSeats":
        return reply(message, "a(so)", ([("seat0", "/org/freedesktop/login1/seat/seat0")],), serial=count)
    if member == "ListSessions":
        rows = [(path.rsplit("/", 1)[1], 0, "root", "seat0" if path.endswith("a") else "", path)
                for path in SESSIONS]
        return reply(message, "a(susso)", (rows,), serial=count)
    path = str(message.header.fields.get(HeaderFields.path))
    props = SESSIONS.get(path)
    if member == "Get" and props is not None:
        index = [p for p, _ in logind.SESSION_PROPERTIES].index(message.body[1])
        return reply(message, "v", (props[index],), serial=count)
    from jeepney import new_error

    out: bytes = new_error(message, "org.freedesktop.DBus.Error.UnknownObject").serialise(serial=count)
    return out


def test_sessions_from_a_logind_at_the_socket_boundary(tmp_path: Path) -> None:
    with dbus_peer(tmp_path, _logind) as address:
        found = samples(LogindCollector(address, timeout=5).collect())
    assert value(found, "node_logind_sessions", seat="seat0", remote="true", type="tty", **{"class": "user"}) == 1
    assert value(found, "node_logind_sessions", seat="", remote="false", type="other",
                 **{"class": "background"}) == 1
    assert sum(found.values()) == 2


def test_no_bus_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="unable to connect to dbus"):
        list(LogindCollector(f"unix:path={tmp_path}/none", timeout=1).collect())


# ---- a real systemd-logind


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with systemd_sandbox() as box:
        box.run("systemctl", "start", "dbus.service", "systemd-logind.service")
        # pam_systemd registers a session for each su; the environment picks its type and class
        for env in ("XDG_SESSION_CLASS=background", "XDG_SESSION_CLASS=background",
                    "XDG_SESSION_TYPE=wayland XDG_SESSION_CLASS=greeter"):
            box.run("sh", "-c", f"env {env} setsid su -l nobody -s /bin/sh -c 'sleep 600' "
                                "</dev/null >/dev/null 2>&1 &")
        end = time.monotonic() + 30
        while len(box.run("loginctl", "list-sessions", "--no-legend").splitlines()) < 3:
            assert time.monotonic() < end, "logind did not register the sessions"
            time.sleep(0.1)
        yield box


def test_same_sessions_as_node_exporter(sandbox: Sandbox) -> None:
    flags = ["--collector.disable-defaults", "--collector.logind"]
    ours: Scrape = sandbox.scrape([sys.executable, "-m", "exporters", "node", *flags], "node_logind")
    theirs: Scrape = sandbox.scrape([reference_binary("node", "trixie"), *flags], "node_logind")
    assert get(ours, "node_scrape_collector_success", collector="logind") == 1
    assert get(ours, "node_logind_sessions", seat="", remote="false", type="unspecified",
               **{"class": "background"}) == 2
    assert get(ours, "node_logind_sessions", seat="", remote="false", type="wayland", **{"class": "greeter"}) == 1
    assert {dict(labels)["seat"] for labels in ours["node_logind_sessions"][1]} == {"", "seat0"}
    assert ours == theirs
