"""-is-cluster key checks: send each key's commands to the node that serves its slot."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporters.redis.resp import Address, Connection, Reply, ReplyError, ReplyLimits, TLSOptions, as_text


@dataclass(frozen=True)
class SlotRange:
    start: int
    end: int
    host: str
    port: int


def parse_cluster_slots(reply: Reply) -> list[SlotRange]:
    """CLUSTER SLOTS: [[start, end, [host, port, id...], replicas...], ...] (masters only)."""
    ranges: list[SlotRange] = []
    for entry in reply if isinstance(reply, list) else []:
        if not isinstance(entry, list) or len(entry) < 3:
            continue
        start, end, master = entry[0], entry[1], entry[2]
        if not isinstance(start, int) or not isinstance(end, int) or not isinstance(master, list) or len(master) < 2:
            continue
        host, port = master[0], master[1]
        if not isinstance(port, int):
            continue
        ranges.append(SlotRange(start, end, as_text(host) if isinstance(host, bytes) else "", port))
    return ranges


@dataclass
class ClusterRouter:
    """Connections to the other nodes of a cluster, opened on first use, for one scrape."""

    entry: Connection
    address: Address
    timeout: float
    deadline: float | None
    tls: TLSOptions
    username: str = ""
    password: str = ""
    limits: ReplyLimits | None = None
    _ranges: list[SlotRange] | None = None
    _nodes: dict[tuple[str, int], Connection] = field(default_factory=dict)

    def connection_for(self, key: bytes) -> Connection:
        """The node serving ``key``; the entry connection when the cluster cannot tell."""
        try:
            if self._ranges is None:
                self._ranges = parse_cluster_slots(self.entry.command("CLUSTER", "SLOTS"))
            slot = self.entry.command("CLUSTER", "KEYSLOT", key)
        except ReplyError:
            return self.entry
        if not isinstance(slot, int):
            return self.entry
        for rng in self._ranges:
            if rng.start <= slot <= rng.end:
                host = rng.host or self.address.host
                if (host, rng.port) == (self.address.host, self.address.port):
                    return self.entry
                if (host, rng.port) not in self._nodes:
                    node = Address(self.address.scheme, host=host, port=rng.port,
                                   username=self.address.username, password=self.address.password)
                    self._nodes[(host, rng.port)] = Connection.open(
                        node, self.timeout, self.deadline, self.tls, username=self.username, password=self.password,
                        limits=self.limits)
                return self._nodes[(host, rng.port)]
        return self.entry

    def close(self) -> None:
        for conn in self._nodes.values():
            conn.close()
        self._nodes.clear()
