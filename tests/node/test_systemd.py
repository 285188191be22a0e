"""systemd collector: parsing and filtering tables, D-Bus faults at the socket boundary, and a
real systemd (sandboxed) read in-process and side by side with node_exporter 1.9.0."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jeepney import HeaderFields, Message, new_error

from exporters.core.flags import ConfigError
from exporters.node.collectors import _dbus, systemd
from exporters.node.collectors._dbus import DBusConnection, DBusError
from exporters.node.collectors.systemd import NO_VALUE, SystemdCollector, SystemdOptions, Unit
from exporters.node.context import NodeContext
from exporters.node.main import build_parser, collector_specs
from tests.conftest import reference_binary
from tests.node.collected import collect_partial, samples, value
from tests.node.dbus_peer import dbus_peer, reply
from tests.node.live_scrape import Scrape, get
from tests.node.systemd_sandbox import Sandbox, systemd_sandbox

pytestmark = pytest.mark.timeout(120)

UPSTREAM_EXCLUDE = r".+\.(automount|device|mount|scope|slice)"


def options(*argv: str) -> SystemdOptions:
    args = build_parser(collector_specs()).parse_args(["--collector.systemd", *argv])
    return systemd.options_from_flags(NodeContext(args=args))


@pytest.mark.parametrize(("text", "expected"), [
    ("252.38-1~deb12u1", (252.38, "252.38-1~deb12u1")),
    ("249", (249.0, "249")),
    ("v245.4-4ubuntu3", (245.4, "v245.4-4ubuntu3")),
    ("1000.5.6", (1000.5, "1000.5.6")),
    ("12.3", (0.0, "")),
    ("", (0.0, "")),
    ("systemd", (0.0, "")),
])
def test_parse_version(text: str, expected: tuple[float, str]) -> None:
    assert systemd.parse_version(text) == expected


def _row(name: str, load: str = "loaded", active: str = "active") -> tuple[object, ...]:
    escaped = "".join(c if c.isalnum() else f"_{ord(c):02x}" for c in name)  # systemd's bus path escaping
    return (name, "desc", load, active, "running", "", f"/org/freedesktop/systemd1/unit/{escaped}", 0, "", "/")


def test_parse_units_skips_rows_of_another_shape() -> None:
    body = ([_row("a.service"), ("short",), (1, 2, 3, 4, 5, 6, 7, 8, 9, 10), _row("b.timer", active="inactive")],)
    units = systemd.parse_units(body)
    assert [(u.name, u.active_state) for u in units] == [("a.service", "active"), ("b.timer", "inactive")]
    for bad in [(), ("x",), ([], [])]:
        with pytest.raises(ValueError):
            systemd.parse_units(bad)


def test_summary_counts_every_state_seen() -> None:
    units = [Unit("a", "loaded", "active", "/"), Unit("b", "loaded", "reloading", "/"),
             Unit("c", "not-found", "inactive", "/")]
    assert systemd.summarize_units(units) == {
        "active": 1, "activating": 0, "deactivating": 0, "inactive": 1, "failed": 0, "reloading": 1,
    }


def test_filter_is_anchored_and_keeps_loaded_units_only() -> None:
    units = [Unit(n, "loaded", "active", "/") for n in ("nd-a.service", "xnd-a.service", "home.mount", "a.slice")]
    units.append(Unit("nd-b.service", "not-found", "inactive", "/"))
    default = options()
    assert [u.name for u in systemd.filter_units(units, default.include, default.exclude)] == [
        "nd-a.service", "xnd-a.service"]
    only = options("--collector.systemd.unit-include=nd-.+")
    assert [u.name for u in systemd.filter_units(units, only.include, only.exclude)] == ["nd-a.service"]
    partial = options("--collector.systemd.unit-include=nd")
    assert systemd.filter_units(units, partial.include, partial.exclude) == []
    mounts = options("--collector.systemd.unit-exclude=.+\\.slice")
    assert "home.mount" in [u.name for u in systemd.filter_units(units, mounts.include, mounts.exclude)]


def test_deprecated_spellings() -> None:
    assert options("--collector.systemd.unit-whitelist=x.+").include.search("x.service")
    assert not options("--collector.systemd.unit-blacklist=x.+").exclude.search("home.mount")
    with pytest.raises(ConfigError):
        options("--collector.systemd.unit-whitelist=a", "--collector.systemd.unit-include=b")
    with pytest.raises(ConfigError):
        options("--collector.systemd.unit-blacklist=a", "--collector.systemd.unit-exclude=b")
    with pytest.raises(ConfigError):
        options("--collector.systemd.unit-include=(")


def test_boolean_flags_take_go_values() -> None:
    assert options("--collector.systemd.enable-task-metrics=true").tasks
    assert not options("--collector.systemd.enable-task-metrics=false").tasks
    assert options("--collector.systemd.private=1", "--collector.systemd.enable-start-time-metrics").start_time
    assert not options("--collector.systemd.private", "--no-collector.systemd.private").private


def test_unit_reads_follow_options_and_version() -> None:
    units = [Unit("a.service", "loaded", "active", "/a"), Unit("b.timer", "loaded", "inactive", "/b"),
             Unit("c.socket", "loaded", "active", "/c")]
    keys = {(u.name, p.key) for u, p in systemd.unit_reads(units, options(), 252)}
    assert keys == {("a.service", "type"), ("b.timer", "last_trigger"), ("c.socket", "accepted"),
                    ("c.socket", "connections"), ("c.socket", "refused")}
    everything = options("--collector.systemd.enable-task-metrics", "--collector.systemd.enable-restarts-metrics",
                         "--collector.systemd.enable-start-time-metrics")
    keys = {(u.name, p.key) for u, p in systemd.unit_reads(units, everything, 200)}
    assert ("b.timer", "last_trigger") not in keys  # LastTriggerUSec: systemd 212
    assert ("b.timer", "start_time") not in keys  # not active: 0 without asking
    assert {("a.service", "restarts"), ("a.service", "tasks_max"), ("a.service", "start_time")} <= keys


def test_unit_families_degrade_per_property() -> None:
    units = [Unit("a.service", "loaded", "active", "/"), Unit("b.service", "loaded", "failed", "/"),
             Unit("s1.socket", "loaded", "active", "/"), Unit("s2.socket", "loaded", "active", "/"),
             Unit("s3.socket", "loaded", "active", "/")]
    values = {
        ("a.service", "type"): "notify", ("a.service", "tasks_current"): NO_VALUE, ("a.service", "tasks_max"): 50,
        ("a.service", "start_time"): 1_700_000_000_500_000,
        ("s1.socket", "accepted"): 3, ("s1.socket", "connections"): 1, ("s1.socket", "refused"): 2,
        ("s2.socket", "accepted"): 4, ("s2.socket", "refused"): 9,
        ("s3.socket", "connections"): 5,
    }
    opts = options("--collector.systemd.enable-start-time-metrics", "--collector.systemd.enable-task-metrics")
    found = samples(systemd.unit_families(units, values, opts))
    assert value(found, "node_systemd_unit_state", name="a.service", state="active", type="notify") == 1
    assert value(found, "node_systemd_unit_state", name="b.service", state="failed", type="") == 1
    assert value(found, "node_systemd_unit_start_time_seconds", name="a.service") == 1_700_000_000.5
    assert value(found, "node_systemd_unit_start_time_seconds", name="b.service") == 0
    assert ("node_systemd_unit_start_time_seconds", (("name", "s1.socket"),)) not in found  # not read: skipped
    assert value(found, "node_systemd_unit_tasks_max", name="a.service") == 50
    assert not [k for k in found if k[0] == "node_systemd_unit_tasks_current"]  # no value: no series
    assert value(found, "node_systemd_socket_refused_connections_total", name="s1.socket") == 2
    # NConnections missing: the socket's other series stop there; NAccepted missing: none at all
    assert value(found, "node_systemd_socket_accepted_connections_total", name="s2.socket") == 4
    assert not [k for k in found if k[1] == (("name", "s2.socket"),) and "accepted" not in k[0]]
    assert not [k for k in found if k[1] == (("name", "s3.socket"),)]


# ---- the D-Bus client against a peer under the test's control


def _version_reply(message: Message, count: int) -> bytes:
    return reply(message, "v", (("s", "252.1"),), serial=count)


def test_dbus_call_and_pipelined_calls(tmp_path: Path) -> None:
    with dbus_peer(tmp_path, _version_reply) as address, \
            DBusConnection.open(address, hello=False, timeout=5) as conn:
        calls = [_dbus.get_property("x.y", "/", "x.y.Z", "Version")] * (_dbus.BATCH * 2 + 3)
        results = conn.call_many(calls)
        assert len(results) == len(calls)
        assert {_dbus.variant(r, "s") for r in results} == {"252.1"}
        with pytest.raises(DBusError):
            _dbus.variant(results[0], "u")


def test_dbus_peer_that_never_answers_costs_the_timeout_only(tmp_path: Path) -> None:
    def silent(message: Message, count: int) -> bytes:
        return _version_reply(message, count) if count == 1 else b""

    with dbus_peer(tmp_path, silent) as address:
        conn = DBusConnection.open(address, hello=False, timeout=0.5)
        begin = time.monotonic()
        with conn, pytest.raises(TimeoutError):
            conn.call(_dbus.get_property("x.y", "/", "x.y.Z", "Version"))
        assert time.monotonic() - begin < 5


def test_dbus_reply_bytes_are_bounded(tmp_path: Path) -> None:
    def flood(message: Message, count: int) -> bytes:
        return reply(message, "v", (("s", "x" * 200_000),), serial=count)

    with dbus_peer(tmp_path, flood) as address, \
            DBusConnection.open(address, hello=False, timeout=5, max_bytes=500_000) as conn:
        with pytest.raises(DBusError, match="LimitExceeded"):
            conn.call_many([_dbus.get_property("x.y", "/", "x.y.Z", "V")] * 5)


def test_dbus_pings_until_the_peer_runs_the_connection(tmp_path: Path) -> None:
    # systemd 252 leaves a message sent right after BEGIN unread until the socket wakes it again
    def deaf_at_first(message: Message, count: int) -> bytes:
        return b"" if count < 3 else _version_reply(message, count)

    with dbus_peer(tmp_path, deaf_at_first) as address, \
            DBusConnection.open(address, hello=False, timeout=5) as conn:
        assert _dbus.variant(conn.call(_dbus.get_property("x.y", "/", "x.y.Z", "V")), "s") == "252.1"


def test_error_reply_and_closed_peer(tmp_path: Path) -> None:
    def refuse(message: Message, count: int) -> bytes:
        if count == 1:
            return _version_reply(message, count)
        out: bytes = new_error(message, "org.freedesktop.DBus.Error.AccessDenied", "s", ("no",)).serialise(
            serial=count)
        return out

    with dbus_peer(tmp_path, refuse) as address, DBusConnection.open(address, hello=False, timeout=5) as conn:
        with pytest.raises(DBusError, match="AccessDenied: no"):
            conn.call(_dbus.get_property("x.y", "/", "x.y.Z", "V"))
    with pytest.raises(OSError):
        DBusConnection.open(f"unix:path={tmp_path}/absent.sock", hello=True, timeout=1)
    with pytest.raises(DBusError):
        DBusConnection.open("tcp:host=127.0.0.1,port=1", hello=True, timeout=1)


def _old_systemd(list_units: bool) -> Callable[[Message, int], bytes]:
    """A systemd 211 at the socket boundary: no SystemState, no LastTriggerUSec."""
    def answer(message: Message, count: int) -> bytes:
        member = message.header.fields.get(HeaderFields.member)
        if member == "Ping":
            return reply(message, serial=count)
        if member == "ListUnits" and list_units:
            rows = [_row("a.service"), _row("b.timer"), _row("gone.service", load="not-found")]
            return reply(message, "a(ssssssouso)", (rows,), serial=count)
        if member == "Get" and message.body == (systemd.MANAGER, "Version"):
            return reply(message, "v", (("s", "211"),), serial=count)
        if member == "Get" and message.body == (systemd.SERVICE, "Type"):
            return reply(message, "v", (("u", 7),), serial=count)  # the wrong type: no type label
        out: bytes = new_error(message, "org.freedesktop.DBus.Error.AccessDenied").serialise(serial=count)
        return out
    return answer


def test_an_old_systemd_at_the_socket_boundary(tmp_path: Path) -> None:
    with dbus_peer(tmp_path, _old_systemd(list_units=True)) as address:
        found = samples(SystemdCollector(options("--collector.systemd.private"), address, timeout=5).collect())
    assert value(found, "node_systemd_version", version="211") == 211
    assert value(found, "node_systemd_unit_state", name="a.service", state="active", type="") == 1
    assert value(found, "node_systemd_units", state="active") == 3
    assert {k[0] for k in found} == {"node_systemd_version", "node_systemd_units", "node_systemd_unit_state"}


def test_units_not_listed_fail_the_scrape_after_the_version(tmp_path: Path) -> None:
    with dbus_peer(tmp_path, _old_systemd(list_units=False)) as address:
        got, err = collect_partial(SystemdCollector(options("--collector.systemd.private"), address, timeout=5))
    assert isinstance(err, RuntimeError) and "couldn't get units" in str(err)
    assert [m.name for m in got] == ["node_systemd_version"]


def test_collector_reports_failure_without_a_bus(tmp_path: Path) -> None:
    collector = SystemdCollector(options(), f"unix:path={tmp_path}/absent.sock", timeout=1)
    with pytest.raises(RuntimeError, match="couldn't get dbus connection"):
        list(collector.collect())


# ---- a real systemd


UNITS = {
    "nd-simple.service": "[Service]\nType=simple\nExecStart=/bin/sleep infinity\nTasksMax=77\n",
    "nd-oneshot.service": "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
    "nd-flaky.service": "[Unit]\nStartLimitIntervalSec=300\nStartLimitBurst=3\n"
                        "[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=50ms\n",
    "nd-echo.socket": "[Socket]\nListenStream=/run/nd-echo.sock\nAccept=yes\n",
    "nd-echo@.service": "[Service]\nExecStart=/bin/true\nStandardInput=socket\n",
    "nd-later.timer": "[Timer]\nOnActiveSec=1h\n",
    "nd-later.service": "[Service]\nExecStart=/bin/true\n",
}
COMMON = ("--collector.disable-defaults", "--collector.systemd",
          # Debian's build changed the default (it adds "target"): give both upstream's
          f"--collector.systemd.unit-exclude={UPSTREAM_EXCLUDE}")
EVERYTHING = ("--collector.systemd.enable-task-metrics", "--collector.systemd.enable-restarts-metrics",
              "--collector.systemd.enable-start-time-metrics")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with systemd_sandbox() as box:
        box.add_units(UNITS)
        box.run("systemctl", "start", "nd-simple.service", "nd-oneshot.service", "nd-echo.socket", "nd-later.timer")
        box.run("systemctl", "start", "--no-block", "nd-flaky.service")
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(box.host_path("/run/nd-echo.sock"))
        box.run("systemctl", "start", "dbus.service")
        end = time.monotonic() + 30
        while box.run("systemctl", "is-failed", "nd-flaky.service", check=False).strip() != "failed":
            assert time.monotonic() < end, "nd-flaky.service did not reach its start limit"
            time.sleep(0.1)
        yield box


@pytest.fixture(scope="module")
def ours_private(sandbox: Sandbox) -> Scrape:
    # systemd refuses its private socket to a peer outside its PID namespace: run inside
    argv = [sys.executable, "-m", "exporters", "node", *COMMON, "--collector.systemd.private", *EVERYTHING]
    return sandbox.scrape(argv, "node_systemd")


def test_collector_reads_a_real_systemd(sandbox: Sandbox, ours_private: Scrape) -> None:
    found = ours_private
    assert get(found, "node_scrape_collector_success", collector="systemd") == 1
    version = sandbox.run("systemctl", "show", "-p", "Version", "--value").strip()
    assert get(found, "node_systemd_version", version=version) == systemd.parse_version(version)[0] > 200
    assert get(found, "node_systemd_unit_state", name="nd-simple.service", state="active", type="simple") == 1
    assert get(found, "node_systemd_unit_state", name="nd-oneshot.service", state="active", type="oneshot") == 1
    assert get(found, "node_systemd_unit_state", name="nd-flaky.service", state="failed", type="simple") == 1
    assert get(found, "node_systemd_unit_state", name="nd-later.timer", state="active", type="") == 1
    assert get(found, "node_systemd_service_restart_total", name="nd-flaky.service") >= 1
    assert get(found, "node_systemd_unit_tasks_max", name="nd-simple.service") == 77
    assert abs(get(found, "node_systemd_unit_start_time_seconds", name="nd-simple.service") - time.time()) < 300
    assert get(found, "node_systemd_unit_start_time_seconds", name="nd-flaky.service") == 0
    assert get(found, "node_systemd_timer_last_trigger_seconds", name="nd-later.timer") == 0
    assert get(found, "node_systemd_socket_accepted_connections_total", name="nd-echo.socket") == 1
    assert get(found, "node_systemd_socket_current_connections", name="nd-echo.socket") == 0
    assert get(found, "node_systemd_socket_refused_connections_total", name="nd-echo.socket") == 0
    # a failed unit degrades the system
    assert get(found, "node_systemd_system_running") == 0
    names = {dict(labels).get("name", "") for _, series in found.values() for labels in series}
    assert not [n for n in names if n.endswith((".slice", ".scope", ".mount"))]
    listed = len(sandbox.run("systemctl", "list-units", "--all", "--no-legend", "--plain").splitlines())
    assert sum(found["node_systemd_units"][1].values()) == listed


@pytest.mark.parametrize(("flags", "our_flags"), [
    (("--collector.systemd.private", *EVERYTHING), None),
    # the system bus; ours with the deprecated spelling of unit-include, which v1.7.0 has
    # (Debian's build of 1.9.0 drops it)
    (("--collector.systemd.unit-include=nd-.+", "--collector.systemd.enable-restarts-metrics"),
     ("--collector.systemd.unit-whitelist=nd-.+", "--collector.systemd.enable-restarts-metrics")),
], ids=["private", "system-bus"])
def test_same_series_as_node_exporter(sandbox: Sandbox, ours_private: Scrape, flags: tuple[str, ...],
                                      our_flags: tuple[str, ...] | None) -> None:
    theirs = sandbox.scrape([reference_binary("node", "trixie"), *COMMON, *flags], "node_systemd")
    if our_flags is None:
        ours = ours_private
    else:
        ours = sandbox.scrape([sys.executable, "-m", "exporters", "node", *COMMON, *our_flags], "node_systemd")
        assert {dict(labels)["name"] for labels in ours["node_systemd_unit_state"][1]} == {
            "nd-simple.service", "nd-oneshot.service", "nd-flaky.service", "nd-echo.socket", "nd-later.timer",
            "nd-later.service"}
    assert theirs["node_scrape_collector_success"][1] == {(("collector", "systemd"),): 1.0}
    assert ours == theirs
