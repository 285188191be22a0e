"""cpu_vulnerabilities: /sys/devices/system/cpu/vulnerabilities/*, ``node_cpu_vulnerabilities_info``.

One file per vulnerability (Documentation/ABI/testing/sysfs-devices-system-cpu): "Not
affected", "Vulnerable[: ...]", "Mitigation: ..." or anything else ("unknown"). The
state is matched case-insensitively by prefix, as procfs's ``parseVulnerability`` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import glob_sorted, read_text_limited
from exporters.node.context import NodeContext

NAME = "cpu_vulnerabilities"
# Prefix of the file's text (lower-cased) -> the state label; no prefix matched: "unknown".
STATES = ("not affected", "vulnerable", "mitigation", "unknown")
HELP = ("Details of each CPU vulnerability reported by sysfs. The value of the series is an int encoded state of "
        "the vulnerability. The same state is stored as a string in the label")
# The files hold one short line; more than this is not a vulnerability file.
MAX_BYTES = 4096


def parse_vulnerability(text: str) -> str:
    """The state label of one vulnerability file's content."""
    lowered = text.strip().lower()
    for state in STATES:
        if lowered.startswith(state):
            return state
    return "unknown"


class CpuVulnerabilitiesCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        info = GaugeFamily("node_cpu_vulnerabilities_info", HELP, labels=["codename", "state"])
        for path in glob_sorted(self.context.sys("devices", "system", "cpu", "vulnerabilities", "*")):
            text = read_text_limited(path, MAX_BYTES)
            info.add_metric([os.path.basename(path), parse_vulnerability(text)], 1.0)
        yield info


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=CpuVulnerabilitiesCollector, enabled_by_default=False,
    help="Exposes CPU vulnerability information from sysfs.",
    source="/sys/devices/system/cpu/vulnerabilities/<name>",
)
