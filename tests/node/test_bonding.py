"""bonding: masters, slaves and their MII status from /sys/class/net."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import bonding
from tests.node.collected import samples
from tests.node.fake_host import make_context, write


@pytest.mark.parametrize(
    ("statuses", "expect"),
    [([], (0, 0)), (["up\n", "down\n"], (2, 1)), (["up", "up"], (2, 2)), (["going back\n"], (1, 0))],
)
def test_count_slaves(statuses: list[str], expect: tuple[int, int]) -> None:
    assert bonding.count_slaves(statuses) == expect


def test_collect(tmp_path: Path) -> None:
    write(tmp_path, "sys/class/net/bonding_masters", "bond0 bond1 bond2\n")
    write(tmp_path, "sys/class/net/bond0/bonding/slaves", "eth0 eth1\n")
    write(tmp_path, "sys/class/net/bond0/lower_eth0/bonding_slave/mii_status", "up\n")
    write(tmp_path, "sys/class/net/bond0/lower_eth1/bonding_slave/mii_status", "down\n")
    write(tmp_path, "sys/class/net/bond1/bonding/slaves", "eth2\n")
    write(tmp_path, "sys/class/net/bond1/slave_eth2/bonding_slave/mii_status", "up\n")  # pre-4.x layout
    write(tmp_path, "sys/class/net/bond2/bonding/slaves", "\n")
    got = samples(bonding.BondingCollector(make_context(tmp_path)).collect())
    assert got[("node_bonding_slaves", (("master", "bond0"),))] == 2
    assert got[("node_bonding_active", (("master", "bond0"),))] == 1
    assert got[("node_bonding_active", (("master", "bond1"),))] == 1
    assert got[("node_bonding_slaves", (("master", "bond2"),))] == 0


def test_missing_slave_status_is_no_data(tmp_path: Path) -> None:
    write(tmp_path, "sys/class/net/bonding_masters", "bond0\n")
    write(tmp_path, "sys/class/net/bond0/bonding/slaves", "eth0\n")
    with pytest.raises(NoDataError, match="mii_status"):
        list(bonding.BondingCollector(make_context(tmp_path)).collect())


def test_no_bonding_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(bonding.BondingCollector(make_context(tmp_path)).collect())
