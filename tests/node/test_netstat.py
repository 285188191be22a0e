"""netstat: /proc/net/netstat, snmp and snmp6 parsing and the field filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import netstat
from tests.node.collected import samples, types
from tests.node.fake_host import make_context, write

NETSTAT = """TcpExt: SyncookiesSent ListenOverflows TCPTimeouts
TcpExt: 0 3 17
IpExt: InOctets OutOctets InNoRoutes
IpExt: 1000 2000 0
"""
SNMP = """Ip: Forwarding DefaultTTL InReceives InHdrErrors
Ip: 1 64 5000 2
Tcp: RtoAlgorithm ActiveOpens CurrEstab MaxConn
Tcp: 1 10 4 -1
Udp: InDatagrams NoPorts InErrors
Udp: 30 1 0
"""
SNMP6 = """Ip6InReceives                   	49
Ip6InOctets                     	4000
Icmp6InMsgs                     	2
Udp6InDatagrams                 	7
Udp6InErrors                    	0
UdpLite6InErrors                	0
Icmp6InType133                  	1
Garbage
NoSixHere 5
"""


def test_parse_net_stats() -> None:
    stats = netstat.parse_net_stats(NETSTAT + SNMP)
    assert stats["TcpExt"] == {"SyncookiesSent": "0", "ListenOverflows": "3", "TCPTimeouts": "17"}
    assert stats["Tcp"]["MaxConn"] == "-1"
    assert set(stats) == {"TcpExt", "IpExt", "Ip", "Tcp", "Udp"}


@pytest.mark.parametrize(
    "text",
    [
        "TcpExt: A B\nTcpExt: 1\n",  # field count mismatch
        "TcpExt: A B\n",  # names without values
        "\nTcpExt: 1\n",
    ],
)
def test_parse_net_stats_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        netstat.parse_net_stats(text)


def test_parse_snmp6() -> None:
    stats = netstat.parse_snmp6(SNMP6)
    assert stats["Ip6"] == {"InReceives": "49", "InOctets": "4000"}
    assert stats["Icmp6"]["InType133"] == "1"
    assert stats["UdpLite6"] == {"InErrors": "0"}
    assert "NoSixHere" not in str(stats)


@pytest.mark.parametrize(("text", "value"), [("17", 17.0), ("-1", -1.0), ("1.5", 1.5), ("1e3", 1000.0)])
def test_go_parse_float(text: str, value: float) -> None:
    assert netstat.go_parse_float(text) == value


@pytest.mark.parametrize("text", ["", "x", "1_0", " 1", "0x10"])
def test_go_parse_float_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        netstat.go_parse_float(text)


def _tree(tmp_path: Path, snmp6: bool = True) -> None:
    write(tmp_path, "proc/net/netstat", NETSTAT)
    write(tmp_path, "proc/net/snmp", SNMP)
    if snmp6:
        write(tmp_path, "proc/net/snmp6", SNMP6)


def test_collect_default_fields(tmp_path: Path) -> None:
    _tree(tmp_path)
    metrics = list(netstat.build(make_context(tmp_path)).collect())
    got = {name for name, _ in samples(metrics)}
    assert got == {
        "node_netstat_TcpExt_SyncookiesSent", "node_netstat_TcpExt_ListenOverflows", "node_netstat_TcpExt_TCPTimeouts",
        "node_netstat_IpExt_InOctets", "node_netstat_IpExt_OutOctets", "node_netstat_Ip_Forwarding",
        "node_netstat_Ip6_InOctets", "node_netstat_Icmp6_InMsgs", "node_netstat_Tcp_ActiveOpens",
        "node_netstat_Tcp_CurrEstab", "node_netstat_Udp_InDatagrams", "node_netstat_Udp_NoPorts",
        "node_netstat_Udp_InErrors", "node_netstat_Udp6_InDatagrams", "node_netstat_Udp6_InErrors",
        "node_netstat_UdpLite6_InErrors",
    }
    assert set(types(metrics).values()) == {"unknown"}


def test_collect_custom_fields_and_no_ipv6(tmp_path: Path) -> None:
    _tree(tmp_path, snmp6=False)
    got = samples(netstat.build(make_context(tmp_path, "--collector.netstat.fields=^Tcp_MaxConn$")).collect())
    assert got == {("node_netstat_Tcp_MaxConn", ()): -1.0}


def test_bad_value_fails_even_when_filtered_out(tmp_path: Path) -> None:
    _tree(tmp_path)
    write(tmp_path, "proc/net/snmp", "Ip: Forwarding Odd\nIp: 1 x\n")
    with pytest.raises(ValueError):
        list(netstat.build(make_context(tmp_path, "--collector.netstat.fields=^Ip_Forwarding$")).collect())


def test_missing_netstat_fails(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/snmp", SNMP)
    with pytest.raises(FileNotFoundError):
        list(netstat.build(make_context(tmp_path)).collect())


def test_field_with_invalid_metric_name_is_skipped(tmp_path: Path) -> None:
    _tree(tmp_path)
    write(tmp_path, "proc/net/netstat", "Tcp-Ext: InErrs\nTcp-Ext: 5\nTcpExt: InErrs\nTcpExt: 6\n")
    got = samples(netstat.build(make_context(tmp_path, "--collector.netstat.fields=InErrs$")).collect())
    assert got == {("node_netstat_TcpExt_InErrs", ()): 6.0}
