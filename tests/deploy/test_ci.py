""".ci/run installs every Debian package the suite needs, and README.md's apt-get line names the same."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import REPO, missing

CI = REPO / ".ci" / "run"
# Programs the suite runs, and the package .ci/run installs them with.
PROGRAMS = {
    "promtool": "prometheus", "prometheus": "prometheus", "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager", "docker-compose": "docker-compose",
    "openssl": "openssl", "redis-server": "redis-server", "redis-cli": "redis-tools", "pgbench": "postgresql-client",
    "pg_isready": "postgresql-client", "supervisord": "supervisor", "runsv": "runit", "ip": "iproute2",
    "unshare": "util-linux", "setpriv": "util-linux", "runuser": "util-linux", "systemd-analyze": "systemd",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
    "prometheus-redis-exporter": "prometheus-redis-exporter",
}


def ci_packages() -> set[str]:
    match = re.search(r"^packages=\(([^)]*)\)", CI.read_text(), re.MULTILINE)
    assert match, "no packages=(...) in .ci/run"
    return set(match.group(1).split())


def readme_packages() -> set[str]:
    text = " ".join((REPO / "README.md").read_text().split())
    match = re.search(r"`apt-get install ([a-z0-9. -]+)`", text)
    assert match, "README.md names no apt-get install line"
    return set(match.group(1).split())


def test_readme_apt_line_is_the_ci_list() -> None:
    assert readme_packages() == ci_packages()


def test_every_program_the_suite_runs_is_installed_by_ci() -> None:
    assert set(PROGRAMS.values()) <= ci_packages()


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_program_is_here(program: str) -> None:
    """On a machine .ci/run prepared, each program is on PATH (postgresql's pg_ctl is versioned, not listed)."""
    if shutil.which(program) is None and shutil.which(program, path="/usr/sbin:/sbin") is None:
        missing(f"{program} (Debian package {PROGRAMS[program]})")
