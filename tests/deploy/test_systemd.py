"""deploy/systemd: each unit passes `systemd-analyze verify` with no warning and is hardened."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, output, run, tool

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED_BINARY = "/opt/exporters/bin/exporters"
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
    """The unit running this checkout (`python -m exporters`): verify checks that ExecStart exists."""
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace(INSTALLED_BINARY, f"{sys.executable} -m exporters"))
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
    assert exec_start[:2] == [INSTALLED_BINARY, kind]
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
