"""nfs: NFS client RPC statistics from ``/proc/net/rpc/nfs``.

The parsing functions here also serve the ``nfsd`` collector (``/proc/net/rpc/nfsd``):
both files share the ``net``, ``rpc`` and ``procN`` line formats.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import parse_uints
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "nfs"

# Procedure names per protocol version, in the order of the counters on the procN line.
V2_PROCEDURES = ("Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write", "Create",
                 "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat")
V3_PROCEDURES = ("Null", "GetAttr", "SetAttr", "Lookup", "Access", "ReadLink", "Read", "Write", "Create", "MkDir",
                 "SymLink", "MkNod", "Remove", "RmDir", "Rename", "Link", "ReadDir", "ReadDirPlus", "FsStat",
                 "FsInfo", "PathConf", "Commit")
CLIENT_V4_PROCEDURES = (
    "Null", "Read", "Write", "Commit", "Open", "OpenConfirm", "OpenNoattr", "OpenDowngrade", "Close", "Setattr",
    "FsInfo", "Renew", "SetClientID", "SetClientIDConfirm", "Lock", "Lockt", "Locku", "Access", "Getattr",
    "Lookup", "LookupRoot", "Remove", "Rename", "Link", "Symlink", "Create", "Pathconf", "StatFs", "ReadLink",
    "ReadDir", "ServerCaps", "DelegReturn", "GetACL", "SetACL", "FsLocations", "ReleaseLockowner", "Secinfo",
    "FsidPresent", "ExchangeID", "CreateSession", "DestroySession", "Sequence", "GetLeaseTime", "ReclaimComplete",
    "LayoutGet", "GetDeviceInfo", "LayoutCommit", "LayoutReturn", "SecinfoNoName", "TestStateID", "FreeStateID",
    "GetDeviceList", "BindConnToSession", "DestroyClientID", "Seek", "Allocate", "DeAllocate", "LayoutStats",
    "Clone",
)

Stats = dict[str, list[int]]
"""Line key -> its counters (``procN`` lines without their leading count)."""


def fixed(key: str, values: list[int], length: int) -> list[int]:
    if len(values) != length:
        raise ValueError(f"invalid {key} line: {len(values)} values, want {length}")
    return values


def procedures(key: str, values: list[int], minimum: int, names: int, pad: bool = False) -> list[int]:
    """A ``procN`` line: a count, then that many counters (at least ``minimum``)."""
    count = values[0]
    if len(values) - 1 != count or (count < minimum and not pad):
        raise ValueError(f"invalid {key} line: count {count}, {len(values) - 1} values")
    counters = values[1:]
    # older kernels have fewer NFSv4 operations: pad with zeros
    return (counters + [0] * names)[:names] if pad else counters[:names]


def parse_client_stats(text: str) -> Stats:
    """/proc/net/rpc/nfs; an unknown or malformed line is an error for the whole file."""
    stats: Stats = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"invalid NFS metric line {line!r}")
        values = parse_uints(parts[1:])
        key = parts[0]
        if key == "net":
            stats[key] = fixed(key, values, 4)
        elif key == "rpc":
            stats[key] = fixed(key, values, 3)
        elif key == "proc2":
            stats[key] = procedures(key, values, 18, len(V2_PROCEDURES))
        elif key == "proc3":
            stats[key] = procedures(key, values, 22, len(V3_PROCEDURES))
        elif key == "proc4":
            stats[key] = procedures(key, values, 0, len(CLIENT_V4_PROCEDURES), pad=True)
        else:
            raise ValueError(f"unknown NFS metric line {key!r}")
    return stats


def line(stats: Stats, key: str, length: int) -> list[int]:
    """A line's counters; zeros when the kernel does not write the line."""
    return stats.get(key) or [0] * length


class NfsCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        try:
            text = read_text(self.context.proc("net", "rpc", "nfs"))
        except FileNotFoundError as err:
            LOGGER.debug("Not collecting NFS metrics", extra={"collector": NAME, "err": str(err)})
            raise NoDataError("no /proc/net/rpc/nfs") from None
        stats = parse_client_stats(text)
        net = line(stats, "net", 4)
        rpc = line(stats, "rpc", 3)
        packets = CounterFamily(
            "node_nfs_packets", "Total NFSd network packets (sent+received) by protocol type.", labels=["protocol"]
        )
        packets.add_metric(["udp"], float(net[1]))
        packets.add_metric(["tcp"], float(net[2]))
        connections = CounterFamily("node_nfs_connections", "Total number of NFSd TCP connections.",
                                          value=float(net[3]))
        rpcs = CounterFamily("node_nfs_rpcs", "Total number of RPCs performed.", value=float(rpc[0]))
        retrans = CounterFamily("node_nfs_rpc_retransmissions", "Number of RPC transmissions performed.",
                                      value=float(rpc[1]))
        refreshes = CounterFamily("node_nfs_rpc_authentication_refreshes",
                                        "Number of RPC authentication refreshes performed.", value=float(rpc[2]))
        requests = CounterFamily("node_nfs_requests", "Number of NFS procedures invoked.",
                                       labels=["proto", "method"])
        for proto, key, names in (("2", "proc2", V2_PROCEDURES), ("3", "proc3", V3_PROCEDURES),
                                  ("4", "proc4", CLIENT_V4_PROCEDURES)):
            for method, value in zip(names, line(stats, key, len(names)), strict=True):
                requests.add_metric([proto, method], float(value))
        return [packets, connections, rpcs, retrans, refreshes, requests]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=NfsCollector, enabled_by_default=True,
    help="Exposes NFS client statistics from /proc/net/rpc/nfs.",
    source="/proc/net/rpc/nfs",
)
