"""deploy/systemd: each unit passes `systemd-analyze verify` with no warning and is hardened."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, EXECUTABLES, exporter_argv, output, run, tool

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED = "/opt/exporters/bin"  # where deploy/README.md installs the console scripts
PORTS = {"node": 9100, "postgres": 9187, "redis": 9121}
# `systemd-analyze security` exposure (0 best, 10 worst): the node exporter must see the host.
EXPOSURE_LIMIT = {"node": 2.5, "postgres": 1.5, "redis": 1.5}


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value given (systemd allows repeated keys)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def installable_copy(unit: Path, tmp_path: Path) -> Path:
    """The unit running this checkout's console script: verify checks that ExecStart exists."""
    kind = unit.stem.removeprefix("exporters-")
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace(f"{INSTALLED}/{EXECUTABLES[kind]}", exporter_argv(kind)[0]))
    return copy


def test_one_unit_per_exporter() -> None:
    assert [u.name for u in UNITS] == [f"exporters-{kind}.service" for kind in sorted(PORTS)]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.stem)
def test_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    result = run([analyze, "verify", str(installable_copy(unit, tmp_path))])
    assert result.returncode == 0, output(result)
    # verify exits 0 on unknown keys or bad values, only warning about them
    assert result.stderr.strip() == "", output(result)


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.stem)
def test_security_exposure_is_low(unit: Path, tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    result = run([analyze, "security", "--offline=yes", "--threshold=25", str(installable_copy(unit, tmp_path))])
    assert result.returncode == 0, output(result)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, output(result)
    assert float(match.group(1)) <= EXPOSURE_LIMIT[unit.stem.removeprefix("exporters-")], output(result)


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.stem)
def test_unit_is_hardened(unit: Path) -> None:
    service = parse_unit(unit)["Service"]
    kind = unit.stem.removeprefix("exporters-")
    assert service["DynamicUser"] == ["yes"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["ProtectHome"][0] in {"yes", "read-only"}
    assert service["PrivateTmp"] == ["yes"]
    assert service["CapabilityBoundingSet"] == [""]
    assert service.get("AmbientCapabilities", [""]) == [""]
    exec_start = service["ExecStart"][0].split()
    # upstream's executable name, as the units and roles written for the Go binary call it
    assert exec_start[0] == f"{INSTALLED}/{EXECUTABLES[kind]}"
    # Go raises its soft open-files limit to the hard one (systemd's default hard limit: 524288)
    assert service["LimitNOFILE"] == ["524288"]
    listen = [a for a in exec_start if "web.listen-address" in a]
    assert listen == [f"{'-' if kind == 'redis' else '--'}web.listen-address=:{PORTS[kind]}"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.stem)
def test_no_secret_on_the_command_line(unit: Path) -> None:
    service = parse_unit(unit)["Service"]
    command = service["ExecStart"][0]
    assert not re.search(r"password|DATA_SOURCE|://", command, re.IGNORECASE), command
    assert "Environment" not in service, "secrets belong in the EnvironmentFile"
    if unit.stem != "exporters-node":
        assert service["EnvironmentFile"] == [f"/etc/exporters/{unit.stem.removeprefix('exporters-')}.env"]


@pytest.mark.parametrize("example", sorted((DEPLOY / "systemd").glob("*.env.example")), ids=lambda p: p.stem)
def test_environment_examples_name_upstream_variables(example: Path) -> None:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string("[env]\n" + example.read_text())
    names = set(parser["env"])
    expected = {"postgres.env": {"DATA_SOURCE_NAME"}, "redis.env": {"REDIS_ADDR", "REDIS_PASSWORD"}}
    assert expected[example.stem] <= names


def test_postgres_example_shows_the_password_file() -> None:
    text = (DEPLOY / "systemd" / "postgres.env.example").read_text()
    assert re.search(r"^# DATA_SOURCE_PASS_FILE=/\S+$", text, re.MULTILINE), text


def test_install_steps_create_the_textfile_directory() -> None:
    """deploy/README.md's systemd steps create the directory the node unit's example passes, and
    Debian's as the option for those coming from its package."""
    example = (DEPLOY / "systemd" / "exporters-node.default.example").read_text()
    [directory] = re.findall(r"^NODE_EXPORTER_ARGS=.*--collector\.textfile\.directory=(\S+)", example, re.MULTILINE)
    steps = re.search(r"## systemd\n.*?```sh\n(.*?)```", (DEPLOY / "README.md").read_text(), re.DOTALL)
    assert steps, "deploy/README.md has no systemd steps"
    assert re.search(rf"^sudo install -d -m 0755 {re.escape(directory)}\b", steps.group(1), re.MULTILINE)
    debian = "/var/lib/prometheus/node-exporter"
    assert f"install -d -m 0755 {debian}" in steps.group(1) and f"textfile.directory={debian}" in example
    assert "deploy/systemd/exporters-node.default.example /etc/default/exporters-node" in steps.group(1)
