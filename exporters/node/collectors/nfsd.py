"""nfsd: NFS server statistics from ``/proc/net/rpc/nfsd``.

See https://www.svennd.be/nfsd-stats-explained-procnetrpcnfsd/ for the line formats.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import parse_uints
from exporters.node.collectors.nfs import V2_PROCEDURES, V3_PROCEDURES, Stats, fixed, line, procedures
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "nfsd"

# NFSv4 operations on the proc4ops line, in order (RFC 7530 numbering, from op 0).
V4_OPERATIONS = (
    "Op0Unused", "Op1Unused", "Op2Future", "Access", "Close", "Commit", "Create", "DelegPurge", "DelegReturn",
    "GetAttr", "GetFH", "Link", "Lock", "Lockt", "Locku", "Lookup", "LookupRoot", "Nverify", "Open", "OpenAttr",
    "OpenConfirm", "OpenDgrd", "PutFH", "PutPubFH", "PutRootFH", "Read", "ReadDir", "ReadLink", "Remove", "Rename",
    "Renew", "RestoreFH", "SaveFH", "SecInfo", "SetAttr", "SetClientID", "SetClientIDConfirm", "Verify", "Write",
    "RelLockOwner",
)
# the operations node_exporter exports, in its order
V4_EXPORTED = (
    "Access", "Close", "Commit", "Create", "DelegPurge", "DelegReturn", "GetAttr", "GetFH", "Link", "Lock", "Lockt",
    "Locku", "Lookup", "LookupRoot", "Nverify", "Open", "OpenAttr", "OpenConfirm", "OpenDgrd", "PutFH", "Read",
    "ReadDir", "ReadLink", "Remove", "Rename", "Renew", "RestoreFH", "SaveFH", "SecInfo", "SetAttr", "SetClientID",
    "SetClientIDConfirm", "Verify", "Write", "RelLockOwner",
)

# (metric, help, type, line, index)
SIMPLE: tuple[tuple[str, str, str, str, int], ...] = (
    ("node_nfsd_reply_cache_hits_total", "Total number of NFSd Reply Cache hits (client lost server response).",
     "counter", "rc", 0),
    ("node_nfsd_reply_cache_misses_total",
     "Total number of NFSd Reply Cache an operation that requires caching (idempotent).", "counter", "rc", 1),
    ("node_nfsd_reply_cache_nocache_total",
     "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).", "counter", "rc", 2),
    ("node_nfsd_file_handles_stale_total", "Total number of NFSd stale file handles", "counter", "fh", 0),
    ("node_nfsd_disk_bytes_read_total", "Total NFSd bytes read.", "counter", "io", 0),
    ("node_nfsd_disk_bytes_written_total", "Total NFSd bytes written.", "counter", "io", 1),
    ("node_nfsd_server_threads", "Total number of NFSd kernel threads that are running.", "gauge", "th", 0),
    ("node_nfsd_read_ahead_cache_size_blocks", "How large the read ahead cache is in blocks.", "gauge", "ra", 0),
    ("node_nfsd_read_ahead_cache_not_found_total", "Total number of NFSd read ahead cache not found.", "counter",
     "ra", 11),
    ("node_nfsd_connections_total", "Total number of NFSd TCP connections.", "counter", "net", 3),
    ("node_nfsd_server_rpcs_total", "Total number of NFSd RPCs.", "counter", "rpc", 0),
)
LINE_LENGTHS = {"rc": 3, "fh": 5, "io": 2, "th": 2, "ra": 12, "net": 4, "rpc": 5}


def parse_server_stats(text: str) -> Stats:
    """/proc/net/rpc/nfsd; an unknown or malformed line is an error for the whole file."""
    stats: Stats = {}
    for raw in text.splitlines():
        parts = raw.split()
        if len(parts) < 2:
            raise ValueError(f"invalid NFSd metric line {raw!r}")
        key = parts[0]
        if key == "th":
            # th <threads> <fullcnt> followed by a histogram the kernel no longer fills
            if len(parts) < 3:
                raise ValueError(f"invalid NFSd th metric line {raw!r}")
            values = parse_uints(parts[1:3])
        else:
            values = parse_uints(parts[1:])
        if key in LINE_LENGTHS:
            stats[key] = fixed(key, values, LINE_LENGTHS[key])
        elif key == "proc2":
            stats[key] = procedures(key, values, 18, len(V2_PROCEDURES))
        elif key == "proc3":
            stats[key] = procedures(key, values, 22, len(V3_PROCEDURES))
        elif key == "proc4":
            if values[0] != 2 or len(values) != 3:
                raise ValueError(f"invalid NFSd proc4 line {raw!r}")
            stats[key] = values[1:]
        elif key == "proc4ops":
            counters = procedures(key, values, 39, len(V4_OPERATIONS))
            # a 2.5 kernel has no RELEASE_LOCKOWNER
            stats[key] = counters + [0] * (len(V4_OPERATIONS) - len(counters))
        elif key == "wdeleg_getattr":
            stats[key] = values[:1]
        else:
            raise ValueError(f"unknown NFSd metric line {key!r}")
    return stats


class NfsdCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        try:
            text = read_text(self.context.proc("net", "rpc", "nfsd"))
        except FileNotFoundError as err:
            LOGGER.debug("Not collecting NFSd metrics", extra={"collector": NAME, "err": str(err)})
            raise NoDataError("no /proc/net/rpc/nfsd") from None
        stats = parse_server_stats(text)
        out: list[Metric] = []
        for metric, doc, typ, key, index in SIMPLE:
            value = float(line(stats, key, LINE_LENGTHS[key])[index])
            if typ == "counter":
                out.append(CounterFamily(metric.removesuffix("_total"), doc, value=value))
            else:
                out.append(GaugeFamily(metric, doc, value=value))
        net = line(stats, "net", 4)
        packets = CounterFamily("node_nfsd_packets",
                                      "Total NFSd network packets (sent+received) by protocol type.", labels=["proto"])
        packets.add_metric(["udp"], float(net[1]))
        packets.add_metric(["tcp"], float(net[2]))
        rpc = line(stats, "rpc", 5)
        errors = CounterFamily("node_nfsd_rpc_errors", "Total number of NFSd RPC errors by error type.",
                                     labels=["error"])
        errors.add_metric(["fmt"], float(rpc[2]))
        errors.add_metric(["auth"], float(rpc[3]))
        errors.add_metric(["cInt"], float(rpc[4]))
        requests = CounterFamily("node_nfsd_requests", "Total number NFSd Requests by method and protocol.",
                                       labels=["proto", "method"])
        # the NULL procedure is not exported for the server
        for proto, key, names in (("2", "proc2", V2_PROCEDURES), ("3", "proc3", V3_PROCEDURES)):
            values = dict(zip(names, line(stats, key, len(names)), strict=True))
            for method in names[1:]:
                requests.add_metric([proto, method], float(values[method]))
        ops = dict(zip(V4_OPERATIONS, line(stats, "proc4ops", len(V4_OPERATIONS)), strict=True))
        for method in V4_EXPORTED:
            requests.add_metric(["4", method], float(ops[method]))
        return [*out, packets, errors, requests]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=NfsdCollector, enabled_by_default=True,
    help="Exposes NFS kernel server statistics from /proc/net/rpc/nfsd.",
    source="/proc/net/rpc/nfsd",
)
