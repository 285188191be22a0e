"""The network and hardware collectors through the real command line and HTTP server."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.node.golden import FIXTURES

COLLECTORS = ("arp", "bonding", "edac", "hwmon", "infiniband", "ipvs", "netclass", "netdev", "netstat",
              "powersupplyclass", "rapl", "sockstat", "softnet", "tcpstat", "thermal_zone", "udp_queues")


@pytest.mark.timeout(60)
def test_fixture_tree_through_the_exporter(exporter_factory: Callable[..., Any]) -> None:
    base = str(FIXTURES)
    args = [
        f"--path.procfs={base}/proc", f"--path.sysfs={base}/sys", "--collector.disable-defaults",
        *[f"--collector.{name}" for name in COLLECTORS],
        "--no-collector.netdev.netlink", "--collector.netdev.device-include=^(eth|lo)",
        "--collector.netclass.ignored-devices=^bond", "--collector.netclass.ignore-invalid-speed",
        "--collector.hwmon.chip-exclude=^hwmon2$", "--collector.ipvs.backend-labels=proto,local_mark",
        "--collector.rapl.enable-zone-label", "--collector.netstat.fields=^Tcp_",
    ]
    exporter = exporter_factory("node", args)
    with urllib.request.urlopen(f"{exporter.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    success = {dict(labels)["collector"]: value for (name, labels), value in samples.items()
               if name == "node_scrape_collector_success"}
    assert success == dict.fromkeys(COLLECTORS, 1.0)
    devices = {dict(labels).get("device") for name, labels in samples if name.startswith("node_network_receive")}
    assert devices == {"eth0", "lo"}  # netdev include filter
    assert not any(dict(labels).get("device", "").startswith("bond") for name, labels in samples
                   if name == "node_network_info")
    speeds = {dict(labels)["device"] for name, labels in samples if name == "node_network_speed_bytes"}
    assert "eth2" not in speeds and "eth1" in speeds  # -1 dropped by ignore-invalid-speed
    assert not any(dict(labels).get("chip") == "hwmon2" for _, labels in samples)
    assert ("node_ipvs_backend_weight", (("local_mark", "00000064"), ("proto", "FWM"))) in samples
    assert any(name == "node_rapl_joules_total" for name, _ in samples)
    netstat = {name for name, _ in samples if name.startswith("node_netstat_")}
    assert "node_netstat_Tcp_CurrEstab" in netstat
    assert netstat <= {
        f"node_netstat_Tcp_{f}" for f in ("RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn", "ActiveOpens",
                                          "PassiveOpens", "AttemptFails", "EstabResets", "CurrEstab", "InSegs",
                                          "OutSegs", "RetransSegs", "InErrs", "OutRsts", "InCsumErrors")}
