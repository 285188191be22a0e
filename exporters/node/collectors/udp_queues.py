"""udp_queues: bytes queued in UDP sockets, ``node_udp_queues{queue,ip}`` from /proc/net/udp{,6}."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_bytes
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

NAME = "udp_queues"
READ_LIMIT = 4 * 1024 * 1024 * 1024  # procfs' readLimit: 4 GiB


class SocketLine(NamedTuple):
    state: int
    tx_queue: int
    rx_queue: int


def _check_address(field: str, what: str) -> None:
    parts = field.split(":")
    if len(parts) != 2:
        raise ValueError(f"unable to parse {what} field {field!r}")
    if len(parts[0]) not in (8, 32) or any(c not in "0123456789abcdefABCDEF" for c in parts[0]):
        raise ValueError(f"cannot parse IP in {field!r}")
    go_parse_uint(parts[1], 16)


def parse_socket_line(fields: list[str]) -> SocketLine:
    """One line of /proc/net/{tcp,udp}{,6}, validated as procfs' parseNetIPSocketLine."""
    if len(fields) < 10:
        raise ValueError(f"less than 10 columns found {' '.join(fields)!r}")
    sl = fields[0].split(":")
    if len(sl) != 2:
        raise ValueError(f"unable to parse sl field in line {fields[0]!r}")
    go_parse_uint(sl[0], 0)
    _check_address(fields[1], "local_address")
    _check_address(fields[2], "rem_address")
    state = go_parse_uint(fields[3], 16)
    queues = fields[4].split(":")
    if len(queues) != 2:
        raise ValueError(f"missing colon for tx/rx queues in socket line {fields[4]!r}")
    tx, rx = go_parse_uint(queues[0], 16), go_parse_uint(queues[1], 16)
    go_parse_uint(fields[7], 0)
    go_parse_uint(fields[9], 0)
    return SocketLine(state, tx, rx)


def parse_socket_summary(text: str) -> tuple[int, int, int]:
    """(tx queue bytes, rx queue bytes, sockets): the header line is skipped."""
    tx = rx = used = 0
    for line in text.splitlines()[1:]:
        entry = parse_socket_line(line.split())
        tx += entry.tx_queue
        rx += entry.rx_queue
        used += 1
    return tx, rx, used


class UdpQueuesCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def read(self, name: str) -> str | None:
        try:
            data = read_bytes(self.context.proc("net", name), READ_LIMIT)
        except FileNotFoundError:
            return None
        # as a text-mode open(): "\r\n" and "\r" read as "\n"
        return data.decode("ascii", errors="replace").replace("\r\n", "\n").replace("\r", "\n")

    def collect(self) -> Iterator[Metric]:
        missing = 0
        for filename, ip in (("udp", "v4"), ("udp6", "v6")):
            text = self.read(filename)
            if text is None:
                missing += 1
                continue
            tx, rx, _ = parse_socket_summary(text)
            family = GaugeFamily("node_udp_queues",
                                       "Number of allocated memory in the kernel for UDP datagrams in bytes.",
                                       labels=["queue", "ip"])
            family.add_metric(["tx", ip], float(tx))
            family.add_metric(["rx", ip], float(rx))
            yield family  # at once: a bad udp6 keeps the v4 samples, as upstream
        if missing == 2:
            raise NoDataError("no /proc/net/udp nor /proc/net/udp6")


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=UdpQueuesCollector, enabled_by_default=True,
    help="Exposes UDP total lengths of the rx_queue and tx_queue from /proc/net/udp and /proc/net/udp6.",
    source="/proc/net/udp and /proc/net/udp6",
)
