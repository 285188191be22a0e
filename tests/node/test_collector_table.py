"""The collector table's conventions (one module, class, options class and factory name per collector),
and the generated table the start reads instead of importing every module."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys

import pytest

from exporters.core.collector import CollectorSpec
from exporters.core.flags import enabled_collectors
from exporters.node import collectors as collectors_pkg
from exporters.node import psutil_backend
from exporters.node.collector_table import COLLECTORS
from exporters.node.main import build_parser, collector_specs, enabled_specs, table_rows
from tests.node import collector_table

MODULES = {info.name: importlib.import_module(f"{collectors_pkg.__name__}.{info.name}")
           for info in pkgutil.iter_modules(collectors_pkg.__path__) if not info.name.startswith("_")}
# modules named otherwise: a module named after the collector would shadow the standard library's
RENAMED = {"os": "os_release", "time": "clock", "stat": "proc_stat", "zoneinfo": "proc_zoneinfo"}


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@pytest.mark.parametrize("spec", collector_specs(), ids=lambda spec: spec.name)
def test_names_follow_the_collector(spec: CollectorSpec[object]) -> None:
    module = MODULES[RENAMED.get(spec.name, spec.name)]
    assert module.SPEC is spec
    classes = {name for name, _ in inspect.getmembers(module, inspect.isclass)
               if name.endswith("Collector") and getattr(module, name).__module__ == module.__name__}
    assert classes == {camel(spec.name) + "Collector"}
    assert spec.factory in (getattr(module, camel(spec.name) + "Collector"), getattr(module, "build", None))
    assert spec.portable in (None, getattr(module, "build_portable", None))
    if spec.options is not None:
        assert dataclasses.is_dataclass(spec.options) and spec.options.__name__ == camel(spec.name) + "Options"
        assert all(f.metadata for f in dataclasses.fields(spec.options))  # every field is a flag


def test_no_module_shadows_the_standard_library() -> None:
    assert not set(MODULES) & set(sys.stdlib_module_names)


def test_psutil_collectors_import_no_collector_module() -> None:
    """The collectors name their psutil stand-ins (``SPEC.portable``), not the other way round."""
    source = inspect.getsource(psutil_backend)
    modules = re.findall(r"from exporters\.node\.collectors(?:\.(\w+))? import", source)
    assert modules and all(name.startswith("_") for name in modules)


# ---------------------------------------------------------------- the generated table


@pytest.mark.timeout(60)
def test_generated_table_is_current() -> None:
    """exporters/node/collector_table.py is what the modules say: regenerate it when this fails."""
    assert collector_table.OUTPUT.read_text() == collector_table.render(collector_table.rows()), (
        "exporters/node/collector_table.py is stale: run python -m tests.node.collector_table --write")


def test_table_rows_are_the_specs() -> None:
    assert list(COLLECTORS) == collector_table.rows()
    assert {row.name: row.module for row in COLLECTORS} == {
        spec.name: RENAMED.get(spec.name, spec.name) for spec in collector_specs(platform=None)}


@pytest.mark.parametrize("platform", ["linux", "darwin", "freebsd14"])
def test_table_rows_of_a_system_are_its_specs(platform: str) -> None:
    """boottime exists on macOS and FreeBSD only (``SYSTEMS``); the table says so without importing it."""
    names = [row.name for row in table_rows(platform)]
    assert names == [spec.name for spec in collector_specs(platform)]
    assert ("boottime" in names) is (platform != "linux")


def _action(action: argparse.Action) -> tuple[object, ...]:
    return (type(action), tuple(action.option_strings), action.dest, action.nargs, action.const, action.default,
            action.type, action.choices, action.required, action.help, action.metavar,
            getattr(action, "collectors", None))


def _parser_shape(parser: argparse.ArgumentParser) -> list[object]:
    return [[group.title, [_action(a) for a in group._group_actions]] for group in parser._action_groups]


def _help_page(parser: argparse.ArgumentParser, flag: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        parser.parse_args([flag])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("env", [{}, {"SUPERVISORD_URL": "http://127.0.0.1:1/RPC2", "GOMAXPROCS": "3"}])
def test_table_parser_is_the_full_import_parser(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The start's parser (from the table) and the one built from every imported module are the same:
    every action, default and env default, --help, --help-long and --help-man."""
    monkeypatch.setenv("COLUMNS", "100")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    table, full = build_parser(), build_parser(collector_specs())
    assert len(table._actions) > 250
    assert _parser_shape(table) == _parser_shape(full)
    assert table.format_help() == full.format_help()
    for flag in ("--help-long", "--help-man"):
        assert _help_page(table, flag, capsys) == _help_page(full, flag, capsys)
    assert vars(table.parse_args([])) == vars(full.parse_args([]))
    if env:
        assert table.parse_args([]).collector_supervisord_url == env["SUPERVISORD_URL"]


@pytest.mark.parametrize("argv", [[], ["--collector.disable-defaults", "--collector.cpu", "--collector.systemd"],
                                  ["--no-collector.netdev", "--collector.wifi"]])
def test_enabled_specs_are_the_enabled_collectors(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    expect = [spec for spec in collector_specs() if spec in enabled_collectors(args, collector_specs())]
    assert enabled_specs(args) == expect


@pytest.mark.timeout(60)
def test_start_imports_only_the_enabled_collectors() -> None:
    """Building the command line imports no collector; the default start imports the defaults' modules only
    (and on Linux not the psutil backend)."""
    script = (
        "import sys\n"
        "from exporters.node.main import build_parser, enabled_specs\n"
        "def loaded():\n"
        "    return sorted(m.rsplit('.', 1)[1] for m in sys.modules\n"
        "                  if m.startswith('exporters.node.collectors.') and not m.rsplit('.', 1)[1].startswith('_'))\n"
        "args = build_parser().parse_args([])\n"
        "print(','.join(loaded()))\n"
        "enabled_specs(args)\n"
        "print(','.join(loaded()))\n"
        "print('exporters.node.psutil_backend' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50, check=True)
    parsed, started, psutil_backend_loaded = done.stdout.splitlines()
    assert parsed == ""
    assert started.split(",") == sorted(row.module for row in table_rows() if row.enabled_by_default)
    assert psutil_backend_loaded == "False"  # macOS and FreeBSD only
