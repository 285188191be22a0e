"""netdev: /proc/net/dev and sysfs statistics parsing, legacy folding, filters, address info."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from exporters.core.flags import ConfigError
from exporters.node.collectors import netdev
from exporters.node.collectors._flags import DeviceFilter
from exporters.node.collectors._rtnl import Link
from tests.node.collected import samples, types
from tests.node.fake_host import make_context, write

PROC_NET_DEV = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier"
    " compressed\n"
    "    lo:  109928     617    0    0    0     0          0         0   109928     617    0    0    0     0       0"
    "          0\n"
    "  eth0: 220973888    5498    1    2    3     4          5         6   253390    2767    7    8    9    10     11"
    "         12\n"
    "veth:a:  1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"
)

STATS = {
    "rx_packets": 10, "tx_packets": 20, "rx_bytes": 30, "tx_bytes": 40, "rx_errors": 1, "tx_errors": 2,
    "rx_dropped": 3, "tx_dropped": 4, "multicast": 5, "collisions": 6, "rx_length_errors": 7,
    "rx_over_errors": 8, "rx_crc_errors": 9, "rx_frame_errors": 10, "rx_fifo_errors": 11,
    "rx_missed_errors": 12, "tx_aborted_errors": 13, "tx_carrier_errors": 14, "tx_fifo_errors": 15,
    "tx_heartbeat_errors": 16, "tx_window_errors": 17, "rx_compressed": 18, "tx_compressed": 19,
    "rx_nohandler": 20,
}


def test_parse_proc_net_dev() -> None:
    stats = netdev.parse_proc_net_dev(PROC_NET_DEV)
    assert list(stats) == ["lo", "eth0", "veth:a"]  # the name is up to the last colon
    assert stats["eth0"]["receive_bytes"] == 220973888
    assert stats["eth0"]["transmit_compressed"] == 12
    assert stats["eth0"]["transmit_colls"] == 10
    assert stats["veth:a"]["receive_bytes"] == 1


@pytest.mark.parametrize(
    "line",
    [
        "  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",  # no colon
        "    : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",  # empty name
        "  eth0: 1 2 3",  # too few columns
        "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x",
        "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -1",
    ],
)
def test_parse_proc_net_dev_malformed(line: str) -> None:
    header = "\n".join(PROC_NET_DEV.splitlines()[:2])
    with pytest.raises(ValueError):
        netdev.parse_proc_net_dev(f"{header}\n{line}\n")


def test_legacy_folds_like_the_kernel() -> None:
    detailed = netdev.parse_link_stats({k: f"{v}\n" for k, v in STATS.items()})
    legacy = netdev.legacy(detailed)
    assert legacy["receive_drop"] == 3 + 12  # rx_dropped + rx_missed_errors
    assert legacy["receive_frame"] == 10 + 7 + 8 + 9  # frame + length + over + crc
    assert legacy["transmit_carrier"] == 14 + 13 + 16 + 17  # carrier + aborted + heartbeat + window
    assert legacy["receive_errs"] == 1 and legacy["transmit_colls"] == 6 and legacy["receive_multicast"] == 5
    assert legacy["receive_nohandler"] == 20
    assert "receive_missed_errors" not in legacy and "collisions" not in legacy
    assert sorted(legacy) == sorted([
        "receive_packets", "transmit_packets", "receive_bytes", "transmit_bytes", "receive_errs", "transmit_errs",
        "receive_drop", "transmit_drop", "receive_multicast", "transmit_colls", "receive_fifo", "receive_frame",
        "transmit_fifo", "transmit_carrier", "receive_compressed", "transmit_compressed", "receive_nohandler",
    ])


def test_legacy_on_procfs_keys_renames_only() -> None:
    stats = netdev.parse_proc_net_dev(PROC_NET_DEV)["eth0"]
    legacy = netdev.legacy(stats)
    assert legacy["receive_errs"] == 1 and legacy["receive_drop"] == 2 and legacy["transmit_drop"] == 8
    assert legacy["receive_frame"] == 4 and legacy["transmit_carrier"] == 11


def test_parse_link_stats_missing_or_bad_counter_reads_zero() -> None:
    values = netdev.parse_link_stats({"rx_bytes": "12\n", "tx_bytes": "garbage"})
    assert values["receive_bytes"] == 12 and values["transmit_bytes"] == 0 and values["receive_nohandler"] == 0


def _tree(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/dev", PROC_NET_DEV)
    for name, value in STATS.items():
        write(tmp_path, f"sys/class/net/eth0/statistics/{name}", f"{value}\n")


def test_collect_netlink_mode_uses_sysfs_statistics(tmp_path: Path) -> None:
    _tree(tmp_path)
    collector = netdev.NetDevCollector(make_context(tmp_path), DeviceFilter(), netlink=True)
    got = samples(collector.collect())
    assert got[("node_network_receive_drop_total", (("device", "eth0"),))] == 15
    assert got[("node_network_receive_nohandler_total", (("device", "eth0"),))] == 20
    # no statistics directory for lo: the /proc/net/dev values, nohandler 0
    assert got[("node_network_receive_bytes_total", (("device", "lo"),))] == 109928
    assert got[("node_network_receive_nohandler_total", (("device", "lo"),))] == 0


def test_collect_procfs_mode_and_detailed(tmp_path: Path) -> None:
    _tree(tmp_path)
    context = make_context(tmp_path)
    plain = samples(netdev.NetDevCollector(context, DeviceFilter(), netlink=False).collect())
    assert ("node_network_receive_nohandler_total", (("device", "eth0"),)) not in plain
    assert plain[("node_network_transmit_colls_total", (("device", "eth0"),))] == 10
    detailed_metrics = list(netdev.NetDevCollector(context, DeviceFilter(), netlink=True,
                                                   detailed=True).collect())
    detailed = samples(detailed_metrics)
    assert detailed[("node_network_receive_missed_errors_total", (("device", "eth0"),))] == 12
    assert detailed[("node_network_collisions_total", (("device", "eth0"),))] == 6
    assert set(types(detailed_metrics).values()) == {"counter"}


def test_factory_filters_and_deprecated_flags(tmp_path: Path) -> None:
    _tree(tmp_path)
    collector = netdev.factory(make_context(tmp_path, netdev_device_exclude="^lo$", netdev_netlink=False))
    devices = {dict(labels)["device"] for _, labels in samples(collector.collect())}
    assert devices == {"eth0", "veth:a"}
    collector = netdev.factory(make_context(tmp_path, netdev_device_whitelist="^eth", netdev_netlink=False))
    assert {dict(labels)["device"] for _, labels in samples(collector.collect())} == {"eth0"}
    with pytest.raises(ConfigError, match="mutually exclusive"):
        netdev.factory(make_context(tmp_path, netdev_device_include="a", netdev_device_exclude="b"))
    with pytest.raises(ConfigError, match="mutually exclusive"):
        netdev.factory(make_context(tmp_path, netdev_device_include="a", netdev_device_whitelist="b"))


def test_missing_proc_net_dev_fails(tmp_path: Path) -> None:
    collector = netdev.NetDevCollector(make_context(tmp_path), DeviceFilter())
    with pytest.raises(FileNotFoundError):
        list(collector.collect())


@pytest.mark.parametrize(
    ("family", "address", "netmask", "expect"),
    [
        (socket.AF_INET, "127.0.0.1", "255.0.0.0", ("127.0.0.1", "8", "link-local")),
        (socket.AF_INET, "10.1.2.3", "255.255.252.0", ("10.1.2.3", "22", "global")),
        (socket.AF_INET, "169.254.1.1", "255.255.0.0", ("169.254.1.1", "16", "link-local")),
        (socket.AF_INET6, "fe80::1%eth0", "ffff:ffff:ffff:ffff::", ("fe80::1", "64", "link-local")),
        (socket.AF_INET6, "2001:db8::5", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00", ("2001:db8::5", "120", "global")),
        (socket.AF_INET6, "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ("::1", "128", "link-local")),
        (socket.AF_INET, "0.0.0.0", "0.0.0.0", ("0.0.0.0", "0", "")),
    ],
)
def test_parse_addresses(family: int, address: str, netmask: str, expect: tuple[str, str, str]) -> None:
    rows = netdev.parse_addresses({"eth0": [(family, address, netmask)]})
    assert [(r.address, r.netmask, r.scope) for r in rows] == [expect]


def test_parse_addresses_skips_link_layer_and_bad_entries() -> None:
    rows = netdev.parse_addresses({"eth0": [(17, "52:54:00:aa:bb:cc", None), (socket.AF_INET, "x", "255.0.0.0"),
                                            (socket.AF_INET, "10.0.0.1", None),
                                            (socket.AF_INET, "10.0.0.2", "255.0.255.0")]})
    assert rows == []


def test_link_device_stats() -> None:
    links = [Link(index=2, type=1, flags=0, name="eth0", stats=dict(STATS)), Link(index=3, type=1, flags=0, name="x")]
    assert netdev.link_device_stats(links) == {"eth0": {netdev.LINK_STATS_KEYS[k]: v for k, v in STATS.items()}}


@pytest.mark.parametrize(("options", "expect", "count"), [
    ({}, {"receive_bytes", "receive_errs", "transmit_colls", "receive_nohandler"}, 17),
    ({"netdev_detailed": True}, {"receive_bytes", "receive_errors", "collisions", "receive_missed_errors"}, 24),
    ({"netdev_netlink": False}, {"receive_bytes", "receive_errs", "receive_multicast"}, 16),
])
def test_served_keys(tmp_path: Path, options: dict[str, object], expect: set[str], count: int) -> None:
    keys = netdev.served_keys(make_context(tmp_path, **options))
    assert expect <= keys and len(keys) == count
    assert netdev.served_keys(make_context(tmp_path, collector_enable_netdev=False)) == set()
    assert netdev.served_keys(make_context(tmp_path, collector_disable_defaults=True)) == set()
    assert netdev.served_keys(make_context(tmp_path, collector_disable_defaults=True, collector_enable_netdev=True))


def test_netlink_counters_match_sysfs_on_this_host() -> None:
    if not os.path.isdir("/sys/class/net/lo/statistics"):
        pytest.skip("no sysfs network statistics on this host")
    from exporters.node.context import NodeContext

    live = netdev.NetDevCollector(NodeContext(), DeviceFilter())
    assert live.live_host()
    files = netdev.NetDevCollector(NodeContext(), DeviceFilter())
    files.live_host = lambda: False  # type: ignore[method-assign]
    before = files.device_stats()
    links = live.device_stats()
    after = files.device_stats()
    assert set(links) == set(before) and "lo" in links
    for device, values in links.items():
        assert set(values) == set(before[device])
        for key, value in values.items():
            assert before[device][key] <= value <= after[device][key], (device, key)
