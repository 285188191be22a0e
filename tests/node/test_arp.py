"""arp: /proc/net/arp parsing and the device filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import arp
from tests.node.collected import samples
from tests.node.fake_host import make_context, write

ARP = """IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         cc:aa:dd:ee:aa:bb     *        eth0
192.168.1.2      0x1         0x2         bb:cc:dd:ee:ff:aa     *        eth0
192.168.1.3      0x1         0x0         00:00:00:00:00:00     *        eth1
10.0.0.1         0x1         0x2         de:ad:be:ef:00:00     *        nope
"""


def test_parse_arp() -> None:
    assert arp.parse_arp(ARP) == {"eth0": 2, "eth1": 1, "nope": 1}
    assert arp.parse_arp(ARP.splitlines()[0] + "\n") == {}


@pytest.mark.parametrize(
    "line",
    [
        "192.168.1.1 0x1 0x2 cc:aa:dd:ee:aa:bb * eth0 extra",  # 7 columns
        "192.168.1.1 0x1 0x2 cc:aa:dd:ee:aa:bb",  # 4 columns
        "192.168.1.1 0x1 0x2 not-a-mac * eth0",
        "192.168.1.1 0x1 0x1ff cc:aa:dd:ee:aa:bb * eth0",  # flags do not fit a byte
    ],
)
def test_parse_arp_malformed(line: str) -> None:
    with pytest.raises(ValueError):
        arp.parse_arp(ARP + line + "\n")


@pytest.mark.parametrize(
    ("flags", "devices"),
    [
        ((), {"eth0", "eth1", "nope"}),
        (("--collector.arp.device-include=^eth",), {"eth0", "eth1"}),
        (("--collector.arp.device-exclude=1$",), {"eth0", "nope"}),
        (("--collector.arp.device-include=^eth", "--collector.arp.device-exclude=0",), {"eth1"}),
    ],
)
def test_collect_filters(tmp_path: Path, flags: tuple[str, ...], devices: set[str]) -> None:
    write(tmp_path, "proc/net/arp", ARP)
    got = samples(arp.build(make_context(tmp_path, *flags)).collect())
    assert {dict(labels)["device"] for _, labels in got} == devices
    if "eth0" in devices:
        assert got[("node_arp_entries", (("device", "eth0"),))] == 2
