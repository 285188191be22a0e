"""Typed settings, kingpin flags, typed collector options and the scrape deadline."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from exporters.core.deadline import NO_DEADLINE, Deadline, DeadlineExceeded, current_deadline
from exporters.core.flags import (
    ArgumentParser,
    ConfigError,
    add_bool_flag,
    add_web_flags,
    parse_duration,
    parse_go_bool,
)
from exporters.core.listen import bind, listen_backlog
from exporters.core.metrics import GaugeFamily, Metric
from exporters.core.options import add_options, option, options_from_args
from exporters.core.runner import CollectorRunner
from exporters.core.settings import WebSettings


def web(argv: list[str], env: dict[str, str] | None = None) -> WebSettings:
    parser = ArgumentParser(prog="t")
    add_web_flags(parser, ":9100", {"web_listen_address": "T_LISTEN"}, env or {})
    return WebSettings.from_args(parser.parse_args(argv))


def test_web_settings_defaults_and_repeatable_listen_address() -> None:
    assert web([]).listen_addresses == (":9100",)
    assert web([], {"T_LISTEN": "127.0.0.1:1"}).listen_addresses == ("127.0.0.1:1",)
    assert web(["--web.listen-address=:1", "--web.listen-address", ":2"]).listen_addresses == (":1", ":2")
    assert web([]).openmetrics is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--web.telemetry-path", "metrics"], "must start with '/'"),
        (["--web.max-requests", "-1"], "must not be negative"),
        (["--web.listen-address", "9100"], "missing port"),
        (["--web.listen-address", "::1:9100"], "need brackets"),
    ],
)
def test_web_settings_refuse_bad_values(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        web(argv)


@pytest.mark.parametrize(("text", "value"), [("1", True), ("t", True), ("TRUE", True), ("True", True),
                                             ("0", False), ("f", False), ("FALSE", False), ("false", False)])
def test_go_bool(text: str, value: bool) -> None:
    assert parse_go_bool(text) is value


@pytest.mark.parametrize("text", ["", "yes", "on", "tRUE", " 1"])
def test_go_bool_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_bool(text)


def bool_parser(env: dict[str, str], default: bool = False) -> ArgumentParser:
    parser = ArgumentParser(prog="t")
    add_bool_flag(parser, "auto-discover", "Discover.", default=default, env_name="T_AUTO", env=env)
    return parser


@pytest.mark.parametrize(
    ("argv", "env", "default", "value"),
    [
        ([], {}, False, False),
        ([], {}, True, True),
        (["--auto-discover"], {}, False, True),
        (["--no-auto-discover"], {}, True, False),
        (["--auto-discover=false"], {}, True, False),
        ([], {"T_AUTO": "true"}, False, True),
        (["--no-auto-discover"], {"T_AUTO": "1"}, False, False),
    ],
)
def test_kingpin_bool_flag(argv: list[str], env: dict[str, str], default: bool, value: bool) -> None:
    assert bool_parser(env, default).parse_args(argv).auto_discover is value


def test_kingpin_bool_flag_bad_environment_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bool_parser({"T_AUTO": "maybe"}).parse_args([])
    assert exit_info.value.code == 1
    assert "environment variable T_AUTO: 'maybe' is not a boolean" in capsys.readouterr().err


@dataclass(frozen=True)
class ExampleOptions:
    timeout: float = option("--collector.example.timeout", 5.0, "Timeout.", parse=parse_duration)
    workers: int = option("--collector.example.workers", 4, "Workers.")
    pattern: str = option("--collector.example.pattern", "^$", "Pattern.", aliases=("--collector.example.old",))
    guest: bool = option("--collector.example.guest", True, "Guest.")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ExampleOptions()),
        (["--collector.example.timeout=2m", "--collector.example.workers", "2"],
         ExampleOptions(timeout=120.0, workers=2)),
        (["--collector.example.old", "x"], ExampleOptions(pattern="x")),
        (["--no-collector.example.guest"], ExampleOptions(guest=False)),
        (["--collector.example.guest=false"], ExampleOptions(guest=False)),
    ],
)
def test_typed_options_from_flags(argv: list[str], expected: ExampleOptions) -> None:
    parser = ArgumentParser(prog="t")
    add_options(parser, ExampleOptions)
    assert options_from_args(ExampleOptions, parser.parse_args(argv)) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_deadline_with_an_injected_clock() -> None:
    clock = Clock()
    deadline = Deadline.after(2.0, clock)
    assert deadline.remaining() == 2.0 and not deadline.expired()
    deadline.check()
    clock.now += 2.5
    assert deadline.remaining() == 0.0 and deadline.expired()
    with pytest.raises(DeadlineExceeded, match="while reading"):
        deadline.check("reading")
    assert NO_DEADLINE.remaining() is None and not NO_DEADLINE.expired()


class DeadlineWatcher:
    """Records the deadline it sees and stops when the clock says time is up."""

    def __init__(self, clock: Clock, expire: bool) -> None:
        self.clock = clock
        self.expire = expire
        self.seen: Deadline | None = None

    def collect(self) -> Iterable[Metric]:
        self.seen = current_deadline()
        if self.expire:
            self.clock.now = 1e9
        self.seen.check("looping")
        return [GaugeFamily("test_watched", "Watched.", value=1)]


def test_runner_hands_collectors_the_scrape_deadline() -> None:
    clock = Clock()
    on_time, late = DeadlineWatcher(clock, expire=False), DeadlineWatcher(clock, expire=True)
    runner = CollectorRunner("test", {"a": on_time, "b": late}, clock=clock)
    try:
        metrics = runner.collect(clock() + 30.0)
    finally:
        runner.close()
    assert on_time.seen is not None and on_time.seen.at == 130.0
    success = next(m for m in metrics if m.name == "test_scrape_collector_success")
    assert {s.labels["collector"]: s.value for s in success.samples} == {"a": 1.0, "b": 0.0}
    assert current_deadline() is NO_DEADLINE  # outside a scrape


def test_listen_backlog_is_somaxconn() -> None:
    with open("/proc/sys/net/core/somaxconn") as handle:
        assert listen_backlog() == min(int(handle.read()), 65535)
    listener = bind("127.0.0.1:0")
    try:
        assert listener.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        with pytest.raises(ConfigError, match="cannot listen on"):
            bind(f"127.0.0.1:{listener.port}")
    finally:
        listener.close()
