"""The kernel-facing network collectors against node_exporter 1.9.0, both run in one namespace.

The namespace has a veth pair with addresses, a down bridge (its speed is unknown), an ifb,
unicast routes in two tables (one multipath), an htb tree and a tbf; UDP traffic leaves through
va's htb before the scrapes. The reference is scraped before and after ours: each of our
values must lie between its two (counters move, the rest must be equal), and the families,
types, HELP and label sets must match.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import reference_binary
from tests.node.netns import Namespace, namespace

COLLECTORS = ("ethtool", "network_route", "qdisc", "wifi")
SETUP = (
    "ip link add va type veth peer name vb",
    "ip link set va up", "ip link set vb up",
    "ip addr add 10.9.0.1/24 dev va", "ip addr add 10.9.0.2/24 dev vb",
    "ip -6 addr add fd00::1/64 dev va nodad",
    "ip route add 10.9.0.3/32 dev va",
    "ip neigh add 10.9.0.3 lladdr 02:00:00:00:00:03 dev va",
    "ip link add br0 type bridge",
    "ip link add ifb0 type ifb",
    "ip route add 10.20.0.0/16 via 10.9.0.2 metric 50",
    "ip route add default nexthop via 10.9.0.2 weight 3 nexthop via 10.9.0.1 dev va weight 1",
    "ip route add 10.30.0.0/16 dev vb proto static table 100",
    "ip route add 10.30.0.0/16 dev vb proto static",
    "tc qdisc replace dev va root handle 1: htb default 10",
    "tc class add dev va parent 1: classid 1:10 htb rate 100mbit",
    "tc qdisc add dev va parent 1:10 handle 10: pfifo limit 50",
    "tc qdisc replace dev vb root tbf rate 10mbit burst 32kbit latency 400ms",
)
TRAFFIC = ("import socket\n"
           "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
           "for i in range(50): s.sendto(b'x' * (100 + i), ('10.9.0.3', 9))\n")
FLAGS = ("--collector.disable-defaults", "--web.disable-exporter-metrics", "--collector.ethtool",
         "--collector.network_route", "--collector.qdisc", "--collector.wifi")

Family = tuple[str, str, dict[tuple[tuple[str, str], ...], float]]


def families(text: str) -> dict[str, Family]:
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name in ("node_scrape_collector_duration_seconds", "node_exporter_build_info"):
            continue
        series = {tuple(sorted(s.labels.items())): s.value for s in family.samples}
        out[family.name] = (family.type, family.documentation, series)
    return out


class Pair:
    """The reference and ours started side by side in the namespace, on ports of their own."""

    def __init__(self, ns: Namespace, binary: str, logs: Path) -> None:
        self.ns = ns
        self.binary = binary
        self.logs = logs
        self.port = 9100

    def scrapes(self, flags: tuple[str, ...]) -> tuple[dict[str, Family], ...]:
        """The reference, ours, the reference again."""
        ref, ours = self.port, self.port + 1
        self.port += 2
        self.ns.start([self.binary, f"--web.listen-address=127.0.0.1:{ref}", *flags], self.logs / f"{ref}.log")
        self.ns.start([sys.executable, "-m", "exporters.node", f"--web.listen-address=127.0.0.1:{ours}", *flags],
                      self.logs / f"{ours}.log")
        for port in (ref, ours):  # both listening before the first scrape that counts
            self.ns.scrape(f"http://127.0.0.1:{port}/")
        before = families(self.ns.scrape(f"http://127.0.0.1:{ref}/metrics"))
        got = families(self.ns.scrape(f"http://127.0.0.1:{ours}/metrics"))
        after = families(self.ns.scrape(f"http://127.0.0.1:{ref}/metrics"))
        return before, got, after


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    binary = reference_binary("node", "trixie")
    with namespace("net") as ns:
        ns.script(*SETUP)
        ns.python(TRAFFIC)
        yield Pair(ns, binary, tmp_path_factory.mktemp("netns"))


def compare(before: dict[str, Family], ours: dict[str, Family], after: dict[str, Family]) -> list[str]:
    problems = []
    if set(ours) != set(before):
        problems.append(f"families only ours: {sorted(set(ours) - set(before))}, "
                        f"only the reference: {sorted(set(before) - set(ours))}")
    for name in sorted(set(ours) & set(before)):
        typ, doc, series = ours[name]
        ref_type, ref_doc, ref_series = before[name]
        if (typ, doc) != (ref_type, ref_doc):
            problems.append(f"{name}: ours {typ} {doc!r}, the reference {ref_type} {ref_doc!r}")
        if set(series) != set(ref_series):
            problems.append(f"{name}: series only ours {sorted(set(series) - set(ref_series))}, "
                            f"only the reference {sorted(set(ref_series) - set(series))}")
        for labels in set(series) & set(ref_series):
            low, high = sorted((ref_series[labels], after[name][2].get(labels, ref_series[labels])))
            if not low <= series[labels] <= high:
                problems.append(f"{name}{dict(labels)}: ours {series[labels]}, the reference {low}..{high}")
    return problems


@pytest.mark.timeout(90)
def test_collectors_match_the_reference(pair: Pair) -> None:
    before, ours, after = pair.scrapes(FLAGS)
    success = {dict(labels)["collector"]: v for labels, v in ours["node_scrape_collector_success"][2].items()}
    assert success == {"ethtool": 1, "network_route": 1, "qdisc": 1, "wifi": 0}  # no nl80211 here: "no data"
    assert not compare(before, ours, after)
    # what the namespace was built to show, so that agreeing on nothing cannot pass
    routes = [dict(labels) for labels in ours["node_network_route_info"][2]]
    assert len([r for r in routes if r["dest"] == "10.30.0.0/16"]) == 1  # in two tables: one series...
    assert ours["node_network_routes"][2][(("device", "vb"),)] == len([r for r in routes if r["device"] == "vb"]) + 1
    assert {r["weight"] for r in routes if r["dest"] == "default"} == {"1", "3"}
    assert ours["node_qdisc_packets"][2][(("device", "va"), ("kind", "htb"))] >= 50
    assert {dict(labels)["driver"] for labels in ours["node_ethtool_info"][2]} == {"bridge", "ifb", "veth"}
    assert ours["node_network_autonegotiate"][2][(("device", "va"),)] == 0


@pytest.mark.timeout(90)
def test_netclass_netlink_matches_the_reference(pair: Pair) -> None:
    before, ours, after = pair.scrapes(("--collector.disable-defaults", "--web.disable-exporter-metrics",
                                        "--collector.netclass", "--collector.netclass.netlink"))
    assert not compare(before, ours, after)
    value = {name: {dict(labels)["device"]: v for labels, v in family[2].items() if "device" in dict(labels)}
             for name, family in ours.items()}
    assert value["node_network_iface_link"]["lo"] == 1  # IFLA_LINK absent: the index, not the link type
    assert value["node_network_protocol_type"]["lo"] == 772
    assert value["node_network_flags"]["va"] == 0x11043  # dev_get_flags(): RUNNING and LOWER_UP included
    assert "br0" in value["node_network_carrier"]  # a down link keeps its carrier
    assert value["node_network_speed_bytes"]["va"] == 10000 * 1000 * 1000 / 8
    duplex = {dict(labels)["device"]: dict(labels)["duplex"] for labels in ours["node_network_info"][2]}
    assert (duplex["va"], duplex["br0"], duplex["lo"]) == ("Full", "Unknown", "")


# The families both serve, by the names the parser gives counters (without _total).
SHARED = {f"node_network_{direction}_{key}" for direction in ("receive", "transmit")
          for key in ("bytes", "packets", "compressed")} | {"node_network_receive_nohandler"}


def as_netdev_serves(scraped: dict[str, Family]) -> dict[str, Family]:
    """The reference's scrape with the shared families as netdev serves them.

    Which of netdev's counters and netclass's gauges the reference's registry keeps under a
    shared name depends on which collector's first sample of it arrives first (the other is
    dropped with a gathering error): netdev's or netclass's, from one scrape to the next, in
    proportions that vary with the machine. Ours always serves netdev's counters; the
    values are the same kernel counters either way.
    """
    out = dict(scraped)
    for name in SHARED:
        gauge = out.pop(f"{name}_total", None)
        if gauge is not None:
            assert gauge[:2] == ("gauge", f"Network device property: {name[len('node_network_'):]}_total")
            out[name] = ("counter", f"Network device statistic {name[len('node_network_'):]}.", gauge[2])
    return out


@pytest.mark.timeout(90)
def test_netclass_rtnl_stats_beside_netdev_match_the_reference(pair: Pair) -> None:
    before, ours, after = pair.scrapes(("--collector.disable-defaults", "--web.disable-exporter-metrics",
                                        "--collector.netclass", "--collector.netclass.netlink",
                                        "--collector.netclass_rtnl.with-stats", "--collector.netdev"))
    assert not compare(as_netdev_serves(before), ours, as_netdev_serves(after))
    assert SHARED <= set(ours)
    assert ours["node_network_receive_bytes"][0] == "counter"  # netdev's, once per device
    assert len(ours["node_network_receive_bytes"][2]) == len(ours["node_network_up"][2])
    assert ours["node_network_receive_errors_total"][0] == "gauge"  # netclass's own where netdev has none


LISTENERS = ("import socket, sys, time\n"
             "keep = []\n"
             "for port, backlog in ((7001, 7), (7002, 100)):\n"
             "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             "    s.bind(('127.0.0.1', port)); s.listen(backlog); keep.append(s)\n"
             "c = socket.create_connection(('127.0.0.1', 7001)); c.sendall(b'y' * 1000); keep.append(c)\n"
             "print('ready', flush=True)\n"
             "time.sleep(300)\n")


@pytest.mark.timeout(90)
def test_tcpstat_queues_match_the_reference(pair: Pair) -> None:
    listeners = pair.ns.start([sys.executable, "-c", LISTENERS], pair.logs / "listeners.log")
    pair.ns.wait_for_line(pair.logs / "listeners.log", "ready", listeners)
    before, ours, after = pair.scrapes(("--collector.disable-defaults", "--web.disable-exporter-metrics",
                                        "--collector.tcpstat"))
    states = ("listen", "rx_queued_bytes", "tx_queued_bytes")
    pick = [{labels: v for labels, v in side["node_tcp_connection_states"][2].items()
             if dict(labels)["state"] in states} for side in (before, ours, after)]
    assert pick[0] == pick[2], "the reference's own view moved between its two scrapes"
    assert pick[1] == pick[0]
    queued = {dict(labels)["state"]: v for labels, v in pick[1].items()}
    assert queued["tx_queued_bytes"] >= 107  # the listen backlogs (7 + 100, and the exporters')
    assert queued["rx_queued_bytes"] >= 1001  # 1000 unread bytes, one connection waiting for accept()
