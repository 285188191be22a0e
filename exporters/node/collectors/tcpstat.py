"""tcpstat (off by default): TCP sockets by state, ``node_tcp_connection_states{state}``.

Asked of the kernel over NETLINK_SOCK_DIAG (``inet_diag``), as upstream does: one dump for
IPv4 and, when ``<procfs>/net/tcp6`` exists, one for IPv6. ``rx_queued_bytes`` and
``tx_queued_bytes`` sum every socket's ``idiag_rqueue``/``idiag_wqueue``; for a listening
socket those are the accept queue's length and its limit (the listen backlog), which
/proc/net/tcp does not show.
"""

from __future__ import annotations

import os
import socket
import struct
from collections import Counter
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._netlink import NETLINK_SOCK_DIAG, request
from exporters.node.context import NodeContext

NAME = "tcpstat"

SOCK_DIAG_BY_FAMILY = 20
TCPF_ALL = 0xFFF
# struct inet_diag_req_v2: family, protocol, ext, pad, states, then a zero inet_diag_sockid (48 bytes)
INET_DIAG_REQ_V2 = struct.Struct("=BBBxI48x")
# struct inet_diag_msg: family, state, timer, retrans, id (48 bytes), expires, rqueue, wqueue, uid, inode
INET_DIAG_MSG = struct.Struct("=BBBB48xIIIII")

# Kernel TCP states (include/net/tcp_states.h) -> upstream label values; others are "unknown".
STATES = {
    1: "established", 2: "syn_sent", 3: "syn_recv", 4: "fin_wait1", 5: "fin_wait2", 6: "time_wait",
    7: "close", 8: "close_wait", 9: "last_ack", 10: "listen", 11: "closing",
}


def parse_inet_diag(payloads: Iterable[bytes]) -> Counter[str]:
    """Sockets per state and the queue sums; a message shorter than inet_diag_msg is skipped."""
    stats: Counter[str] = Counter()
    for payload in payloads:
        if len(payload) < INET_DIAG_MSG.size:
            continue
        _, state, _, _, _, rqueue, wqueue, _, _ = INET_DIAG_MSG.unpack_from(payload)
        stats["tx_queued_bytes"] += wqueue
        stats["rx_queued_bytes"] += rqueue
        stats[STATES.get(state, "unknown")] += 1
    return stats


def read_inet_diag(family: int) -> list[bytes]:
    body = INET_DIAG_REQ_V2.pack(family, socket.IPPROTO_TCP, 0, TCPF_ALL)
    return [m.payload for m in request(NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, body) if m.type == SOCK_DIAG_BY_FAMILY]


class TcpstatCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        stats = parse_inet_diag(read_inet_diag(socket.AF_INET))
        if os.path.exists(self.context.proc("net", "tcp6")):
            # both families' sockets in one set of counts, as upstream adds tcp6 to tcp
            for state, value in parse_inet_diag(read_inet_diag(socket.AF_INET6)).items():
                stats[state] = stats.get(state, 0) + value
        family = GaugeFamily("node_tcp_connection_states", "Number of connection states.", labels=["state"])
        for state, value in sorted(stats.items()):
            family.add_metric([state], float(value))
        return [family]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=TcpstatCollector, enabled_by_default=False, help="Exposes TCP connection status information.",
    source="NETLINK_SOCK_DIAG (inet_diag) dump of the TCP sockets",
)
