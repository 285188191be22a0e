"""ipvs: /proc/net/ip_vs_stats and /proc/net/ip_vs parsing, label selection and sums."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.core.flags import ConfigError
from exporters.node.collectors import ipvs
from tests.node.collected import collect_partial, samples, types
from tests.node.fake_host import make_context, write

STATS = """   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
     10       20       30               40                0

 Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
       0        0        0                0                0
"""
IP_VS = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A000164:0050 wlc
  -> 0A000A0B:0050      Masq    100    312        4
  -> 0A000A0C:0050      Masq    100    298        7
UDP  [2001:0db8:0000:0000:0000:0000:0000:0100]:01BB sh
  -> [0000:0000:0000:0000:0000:ffff:0a00:0a0b]:01BB      Route   1      17         3
FWM  00000064 wlc
  -> 0A000A1F:0CEA      Route   50     5          1
  -> 0A000A1F:0CEA      Route   50     2          0
"""


def test_parse_ipvs_stats() -> None:
    assert ipvs.parse_ipvs_stats(STATS) == (0x10, 0x20, 0x30, 0x40, 0)


@pytest.mark.parametrize("text", ["a\nb\n", "a\nb\n1 2 3\nx", "a\nb\n1 2 3 4 zz\nx"])
def test_parse_ipvs_stats_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        ipvs.parse_ipvs_stats(text)


def test_parse_ipvs_backends() -> None:
    backends = ipvs.parse_ipvs_backends(IP_VS)
    assert len(backends) == 5
    first = backends[0]
    assert (first.local_address, first.local_port, first.remote_address, first.remote_port) == (
        "10.0.1.100", 80, "10.0.10.11", 80)
    assert (first.proto, first.weight, first.active_conn, first.inact_conn) == ("TCP", 100, 312, 4)
    v6 = backends[2]
    assert v6.local_address == "2001:db8::100" and v6.local_port == 443
    assert v6.remote_address == "10.0.10.11"  # an IPv4-mapped address prints as IPv4, as Go's net.IP does
    fwm = backends[3]
    assert (fwm.proto, fwm.local_mark, fwm.local_address, fwm.local_port) == ("FWM", "00000064", "", 0)


@pytest.mark.parametrize(
    "line",
    [
        "TCP  0A00016:0050 wlc",  # 12 characters
        "TCP  0A0001ZZ:0050 wlc",
        "  -> 0A000A0B:0050      Masq    x    312        4",
        "  -> [2001:0db8:0000:0000:0000:0000:0000:01]:0050   Route 1 0 0",
    ],
)
def test_parse_ipvs_backends_malformed(line: str) -> None:
    with pytest.raises(ValueError):
        ipvs.parse_ipvs_backends("TCP  0A000164:0050 wlc\n" + line + "\n")


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("local_address,local_port,remote_address,remote_port,proto,local_mark", list(ipvs.FULL_BACKEND_LABELS)),
        ("proto,local_port", ["local_port", "proto"]),  # upstream's order, not the flag's
        ("", []),
        (",proto,,", ["proto"]),
    ],
)
def test_parse_backend_labels(text: str, labels: list[str]) -> None:
    assert ipvs.parse_backend_labels(text) == labels


def test_parse_backend_labels_unknown() -> None:
    with pytest.raises(ConfigError, match='"bogus, nope"'):
        ipvs.parse_backend_labels("proto,nope,bogus")


def test_collect_sums_backends_per_label_set(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/ip_vs_stats", STATS)
    write(tmp_path, "proc/net/ip_vs", IP_VS)
    metrics = list(ipvs.factory(make_context(tmp_path)).collect())
    got = samples(metrics)
    assert got[("node_ipvs_connections_total", ())] == 16
    fwm = (("local_address", ""), ("local_mark", "00000064"), ("local_port", "0"), ("proto", "FWM"),
           ("remote_address", "10.0.10.31"), ("remote_port", "3306"))
    assert got[("node_ipvs_backend_connections_active", fwm)] == 7  # two identical backends summed
    assert got[("node_ipvs_backend_weight", fwm)] == 100
    assert types(metrics)["node_ipvs_incoming_bytes"] == "counter"
    by_proto = samples(ipvs.factory(make_context(tmp_path, ipvs_backend_labels="proto")).collect())
    assert by_proto[("node_ipvs_backend_connections_active", (("proto", "TCP"),))] == 610
    assert by_proto[("node_ipvs_backend_connections_inactive", (("proto", "TCP"),))] == 11


def test_no_ipvs_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(ipvs.factory(make_context(tmp_path)).collect())


def test_bad_backend_table_keeps_the_totals(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/ip_vs_stats", STATS)
    write(tmp_path, "proc/net/ip_vs", "TCP  0A00016:0050 wlc\n")
    got, err = collect_partial(ipvs.factory(make_context(tmp_path)))
    assert isinstance(err, ValueError)
    assert {name for name, _ in samples(got)} == {
        "node_ipvs_connections_total", "node_ipvs_incoming_packets_total", "node_ipvs_outgoing_packets_total",
        "node_ipvs_incoming_bytes_total", "node_ipvs_outgoing_bytes_total",
    }
