"""HELP and TYPE lines of the network and hardware collectors equal the reference's (golden.prom).

The golden test compares samples; dashboards and recording rules also see the metric type
(counter vs gauge vs untyped), and ``promtool`` checks the help text, so both are compared
here for every family both emit.
"""

from __future__ import annotations

import re

import pytest

from tests.node import golden

COLLECTORS = (
    "arp", "bonding", "edac", "hwmon", "infiniband", "ipvs", "netclass", "netdev", "netstat", "powersupplyclass",
    "rapl", "sockstat", "softnet", "tcpstat", "thermal_zone", "udp_queues",
)
META = re.compile(r"# (HELP|TYPE) (\S+) ?(.*)")


def _meta(text: str) -> dict[tuple[str, str], str]:
    out = {}
    for line in text.splitlines():
        match = META.match(line)
        if match and not match.group(2).startswith("node_scrape_"):
            out[(match.group(1), match.group(2))] = match.group(3)
    return out


@pytest.mark.timeout(30)
def test_help_and_type_match_the_reference() -> None:
    sections = golden.load_golden()
    ours = golden.scrape_ours(list(COLLECTORS))
    compared = 0
    for collector in COLLECTORS:
        reference, mine = _meta(sections[collector]), _meta(ours[collector])
        for key in sorted(set(reference) & set(mine)):
            assert mine[key] == reference[key], f"{collector}: {key}"
            compared += 1
        # every reference family is emitted by us (samples are the golden test's business)
        assert {name for _, name in reference} <= {name for _, name in mine}, collector
    assert compared > 100
