"""tcpstat (off by default): TCP sockets by state, ``node_tcp_connection_states{state}``.

Read from /proc/net/tcp and /proc/net/tcp6 (upstream asks the kernel over
NETLINK_INET_DIAG; /proc honours ``--path.procfs``). ``rx_queued_bytes`` and
``tx_queued_bytes`` sum the queue columns. One difference remains: for a listening
socket inet_diag reports the accept-queue limit as its send queue, /proc reports 0.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors.udp_queues import parse_socket_line
from exporters.node.context import NodeContext

NAME = "tcpstat"

# Kernel TCP states (include/net/tcp_states.h) -> upstream label values.
STATES = {
    1: "established", 2: "syn_sent", 3: "syn_recv", 4: "fin_wait1", 5: "fin_wait2", 6: "time_wait",
    7: "close", 8: "close_wait", 9: "last_ack", 10: "listen", 11: "closing",
}


def parse_tcp(text: str) -> Counter[str]:
    """Count sockets per state and sum their queues; the header line is skipped."""
    stats: Counter[str] = Counter()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if not fields:
            continue
        entry = parse_socket_line(fields)
        stats["tx_queued_bytes"] += entry.tx_queue
        stats["rx_queued_bytes"] += entry.rx_queue
        stats[STATES.get(entry.state, "unknown")] += 1
    return stats


class TCPStatCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def read(self, name: str) -> str:
        return read_text(self.context.proc("net", name))

    def collect(self) -> Iterable[Metric]:
        stats = parse_tcp(self.read("tcp"))
        if os.path.exists(self.context.proc("net", "tcp6")):
            stats.update(parse_tcp(self.read("tcp6")))
        family = GaugeFamily("node_tcp_connection_states", "Number of connection states.",
                                   labels=["state"])
        for state, value in sorted(stats.items()):
            family.add_metric([state], float(value))
        return [family]


def factory(context: NodeContext) -> TCPStatCollector:
    return TCPStatCollector(context)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=factory, enabled_by_default=False, help="Exposes TCP connection status information.",
)
