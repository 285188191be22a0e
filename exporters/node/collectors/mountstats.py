"""mountstats: NFS client statistics per mount from /proc/self/mountstats, ``node_mountstats_nfs_*``.

A mount line ``device D mounted on M with fstype T [statvers=V]`` is followed, for NFS
mounts with a statistics version, by indented ``opts:``, ``age:``, ``bytes:``, ``events:``,
``xprt:`` lines and, after ``per-op statistics``, one line per RPC operation up to a blank
line (procfs ``parseMountStats``). The ``mountaddr`` label is the ``addr=`` super option of
the mountinfo line at the same position (/proc/self/mountinfo), as upstream pairs them.
Mounts with the same export, protocol and address are reported once.

v1.7.0 keeps one transport per mount (the last ``xprt:`` line); so does this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_int, go_parse_uint
from exporters.node.context import NodeContext

NAME = "mountstats"
PREFIX = "node_mountstats_nfs_"
LABELS = ("export", "protocol", "mountaddr")
# Go's float64 mantissa: upstream exports counters that may exceed it modulo 2^53.
FLOAT64_MANTISSA = 9007199254740992
NFS_TYPES = ("nfs", "nfs4")
# Per-op lines kept for one mount: NFSv4.2 has about 70 operations.
MAX_OPERATIONS = 512

BYTES_FIELDS = ("read", "write", "direct_read", "direct_write", "read_total", "write_total", "read_pages",
                "write_pages")
EVENTS_FIELDS = (
    "inode_revalidate", "dnode_revalidate", "data_invalidate", "attribute_invalidate", "vfs_open", "vfs_lookup",
    "vfs_access", "vfs_update_page", "vfs_read_page", "vfs_read_pages", "vfs_write_page", "vfs_write_pages",
    "vfs_getdents", "vfs_setattr", "vfs_flush", "vfs_fsync", "vfs_lock", "vfs_file_release", "congestion_wait",
    "truncation", "write_extension", "silly_rename", "short_read", "short_write", "jukebox_delay", "pnfs_read",
    "pnfs_write",
)
# The transport fields upstream exports, by position in the tcp (1.1) layout:
# port bind connect connect_idle idle sends recvs bad_xids req backlog max_slots sending pending.
TRANSPORT_FIELDS = ("port", "bind", "connect", "connect_idle_time", "idle_time_seconds", "sends", "receives",
                    "bad_transaction_ids", "cumulative_active_requests", "cumulative_backlog",
                    "maximum_rpc_slots_used", "cumulative_sending_queue", "cumulative_pending_queue")
# (statvers, protocol) -> the number of fields after the protocol (a minimum for rdma).
TRANSPORT_LENGTHS = {("1.0", "tcp"): 10, ("1.0", "udp"): 7, ("1.1", "tcp"): 13, ("1.1", "udp"): 10,
                     ("1.1", "rdma"): 20}
RDMA_MAX_FIELDS = 31

# metric suffix -> (source, field, help), in upstream's order; source "age" is the mount age.
MOUNT_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("age_seconds_total", "age", "", "The age of the NFS mount in seconds."),
    ("read_bytes_total", "bytes", "read", "Number of bytes read using the read() syscall."),
    ("write_bytes_total", "bytes", "write", "Number of bytes written using the write() syscall."),
    ("direct_read_bytes_total", "bytes", "direct_read",
     "Number of bytes read using the read() syscall in O_DIRECT mode."),
    ("direct_write_bytes_total", "bytes", "direct_write",
     "Number of bytes written using the write() syscall in O_DIRECT mode."),
    ("total_read_bytes_total", "bytes", "read_total", "Number of bytes read from the NFS server, in total."),
    ("total_write_bytes_total", "bytes", "write_total", "Number of bytes written to the NFS server, in total."),
    ("read_pages_total", "bytes", "read_pages", "Number of pages read directly via mmap()'d files."),
    ("write_pages_total", "bytes", "write_pages", "Number of pages written directly via mmap()'d files."),
    ("transport_bind_total", "xprt", "bind",
     "Number of times the client has had to establish a connection from scratch to the NFS server."),
    ("transport_connect_total", "xprt", "connect",
     "Number of times the client has made a TCP connection to the NFS server."),
    ("transport_idle_time_seconds", "xprt", "idle_time_seconds",
     "Duration since the NFS mount last saw any RPC traffic, in seconds."),
    ("transport_sends_total", "xprt", "sends", "Number of RPC requests for this mount sent to the NFS server."),
    ("transport_receives_total", "xprt", "receives",
     "Number of RPC responses for this mount received from the NFS server."),
    ("transport_bad_transaction_ids_total", "xprt", "bad_transaction_ids",
     "Number of times the NFS server sent a response with a transaction ID unknown to this client."),
    ("transport_backlog_queue_total", "xprt", "cumulative_backlog",
     "Total number of items added to the RPC backlog queue."),
    ("transport_maximum_rpc_slots", "xprt", "maximum_rpc_slots_used",
     "Maximum number of simultaneously active RPC requests ever used."),
    ("transport_sending_queue_total", "xprt", "cumulative_sending_queue",
     "Total number of items added to the RPC transmission sending queue."),
    ("transport_pending_queue_total", "xprt", "cumulative_pending_queue",
     "Total number of items added to the RPC transmission pending queue."),
    ("event_inode_revalidate_total", "events", "inode_revalidate",
     "Number of times cached inode attributes are re-validated from the server."),
    ("event_dnode_revalidate_total", "events", "dnode_revalidate",
     "Number of times cached dentry nodes are re-validated from the server."),
    ("event_data_invalidate_total", "events", "data_invalidate", "Number of times an inode cache is cleared."),
    ("event_attribute_invalidate_total", "events", "attribute_invalidate",
     "Number of times cached inode attributes are invalidated."),
    # upstream's help for vfs_open repeats the one above
    ("event_vfs_open_total", "events", "vfs_open", "Number of times cached inode attributes are invalidated."),
    ("event_vfs_lookup_total", "events", "vfs_lookup", "Number of times a directory lookup has occurred."),
    ("event_vfs_access_total", "events", "vfs_access", "Number of times permissions have been checked."),
    ("event_vfs_update_page_total", "events", "vfs_update_page", "Number of updates (and potential writes) to pages."),
    ("event_vfs_read_page_total", "events", "vfs_read_page", "Number of pages read directly via mmap()'d files."),
    ("event_vfs_read_pages_total", "events", "vfs_read_pages", "Number of times a group of pages have been read."),
    ("event_vfs_write_page_total", "events", "vfs_write_page", "Number of pages written directly via mmap()'d files."),
    ("event_vfs_write_pages_total", "events", "vfs_write_pages",
     "Number of times a group of pages have been written."),
    ("event_vfs_getdents_total", "events", "vfs_getdents",
     "Number of times directory entries have been read with getdents()."),
    # and the one of setattr repeats getdents'
    ("event_vfs_setattr_total", "events", "vfs_setattr",
     "Number of times directory entries have been read with getdents()."),
    ("event_vfs_flush_total", "events", "vfs_flush",
     "Number of pending writes that have been forcefully flushed to the server."),
    ("event_vfs_fsync_total", "events", "vfs_fsync",
     "Number of times fsync() has been called on directories and files."),
    ("event_vfs_lock_total", "events", "vfs_lock", "Number of times locking has been attempted on a file."),
    ("event_vfs_file_release_total", "events", "vfs_file_release",
     "Number of times files have been closed and released."),
    ("event_truncation_total", "events", "truncation", "Number of times files have been truncated."),
    ("event_write_extension_total", "events", "write_extension",
     "Number of times a file has been grown due to writes beyond its existing end."),
    ("event_silly_rename_total", "events", "silly_rename",
     "Number of times a file was removed while still open by another process."),
    ("event_short_read_total", "events", "short_read",
     "Number of times the NFS server gave less data than expected while reading."),
    ("event_short_write_total", "events", "short_write",
     "Number of times the NFS server wrote less data than expected while writing."),
    ("event_jukebox_delay_total", "events", "jukebox_delay",
     "Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage."),
    ("event_pnfs_read_total", "events", "pnfs_read", "Number of NFS v4.1+ pNFS reads."),
    ("event_pnfs_write_total", "events", "pnfs_write", "Number of NFS v4.1+ pNFS writes."),
)
# Gauges among MOUNT_METRICS (everything else is a counter).
GAUGES = frozenset({"transport_idle_time_seconds", "transport_maximum_rpc_slots"})
# metric suffix -> (index in a per-op line's numbers, divisor, help); times are milliseconds.
OPERATION_METRICS: tuple[tuple[str, int, float, str], ...] = (
    ("operations_requests_total", 0, 1, "Number of requests performed for a given operation."),
    ("operations_transmissions_total", 1, 1,
     "Number of times an actual RPC request has been transmitted for a given operation."),
    ("operations_major_timeouts_total", 2, 1,
     "Number of times a request has had a major timeout for a given operation."),
    ("operations_sent_bytes_total", 3, 1,
     "Number of bytes sent for a given operation, including RPC headers and payload."),
    ("operations_received_bytes_total", 4, 1,
     "Number of bytes received for a given operation, including RPC headers and payload."),
    ("operations_queue_time_seconds_total", 5, 1000.0,
     "Duration all requests spent queued for transmission for a given operation before they were sent, in seconds."),
    ("operations_response_time_seconds_total", 6, 1000.0,
     "Duration all requests took to get a reply back after a request for a given operation was transmitted, "
     "in seconds."),
    ("operations_request_time_seconds_total", 7, 1000.0,
     "Duration all requests took from when a request was enqueued to when it was completely handled for a given "
     "operation, in seconds."),
)


@dataclass
class NFSStats:
    stat_version: str
    age: float = 0.0
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BYTES_FIELDS, 0))
    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENTS_FIELDS, 0))
    protocol: str = ""
    transport: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TRANSPORT_FIELDS, 0))
    operations: list[tuple[str, list[int]]] = field(default_factory=list)


@dataclass
class Mount:
    device: str
    mount_point: str
    fstype: str
    stats: NFSStats | None = None


def _uints(fields: list[str]) -> list[int]:
    return [go_parse_uint(f) for f in fields]


def parse_go_seconds(text: str) -> float:
    """``time.ParseDuration(text + "s").Seconds()`` for the whole seconds the kernel prints."""
    value = go_parse_uint(text)
    if value > (2**63 - 1) // 1_000_000_000:
        raise ValueError(f"time: invalid duration {text + 's'!r}")
    return float(value)


def parse_transport(fields: list[str], stat_version: str) -> tuple[str, dict[str, int]]:
    """``xprt:`` fields (protocol first) -> protocol and TRANSPORT_FIELDS values."""
    if not fields:
        raise ValueError(f"incomplete NFS transport stats {stat_version} statement")
    protocol, numbers = fields[0], fields[1:]
    expected = TRANSPORT_LENGTHS.get((stat_version, protocol))
    if expected is None:
        raise ValueError(f"invalid NFS protocol {protocol!r} in stats {stat_version} statement")
    if (len(numbers) < expected or len(numbers) > RDMA_MAX_FIELDS) if protocol == "rdma" else len(numbers) != expected:
        raise ValueError(f"invalid NFS transport stats {stat_version} statement: {numbers}, protocol: {protocol}")
    values = _uints(numbers)
    if protocol == "udp":
        # udp has no connect, connect_idle_time or idle time
        values = [*values[:2], 0, 0, 0, *values[2:]]
    elif protocol == "rdma":
        # rdma (1.1) has no maximum_rpc_slots_used, sending or pending queue
        values = [*values[:10], 0, 0, 0, *values[10:]]
    values += [0] * (len(TRANSPORT_FIELDS) - len(values))
    return protocol, dict(zip(TRANSPORT_FIELDS, values, strict=False))


def _parse_nfs(lines: list[str], start: int, stat_version: str) -> tuple[NFSStats, int]:
    """The statistics lines from ``start``; returns them and the index of the next unread line.

    As procfs does, the per-op lines are read after the first blank line or ``per-op`` line,
    whichever comes first, up to the next blank line.
    """
    stats = NFSStats(stat_version)
    i = start
    while i < len(lines):
        ss = lines[i].split()
        i += 1
        if not ss:
            break
        key = ss[0]
        if key in ("opts:", "age:", "bytes:", "events:") and len(ss) < 2:
            raise ValueError(f"incomplete information for NFS stats: {ss}")
        if key == "age:":
            stats.age = parse_go_seconds(ss[1])
        elif key == "bytes:":
            if len(ss) - 1 != len(BYTES_FIELDS):
                raise ValueError(f"invalid NFS bytes stats: {ss[1:]}")
            stats.bytes = dict(zip(BYTES_FIELDS, _uints(ss[1:]), strict=True))
        elif key == "events:":
            if len(ss) - 1 != len(EVENTS_FIELDS):
                raise ValueError(f"invalid NFS events stats: {ss[1:]}")
            stats.events = dict(zip(EVENTS_FIELDS, _uints(ss[1:]), strict=True))
        elif key == "xprt:":
            if len(ss) < 3:
                raise ValueError(f"incomplete information for NFS transport stats: {ss}")
            stats.protocol, stats.transport = parse_transport(ss[1:], stat_version)
        elif key == "per-op":
            break
    while i < len(lines):
        ss = lines[i].split()
        i += 1
        if not ss:
            break
        if len(ss) < 9:
            raise ValueError(f"invalid NFS per-operations stats: {ss}")
        if len(stats.operations) >= MAX_OPERATIONS:
            raise ValueError(f"more than {MAX_OPERATIONS} NFS operations")
        stats.operations.append((ss[0].removesuffix(":"), _uints(ss[1:])))
    return stats, i


def parse_mountstats(text: str) -> list[Mount]:
    lines = text.splitlines()
    mounts = []
    i = 0
    while i < len(lines):
        ss = lines[i].split()
        i += 1
        if not ss or ss[0] != "device":
            continue
        if len(ss) < 8 or (ss[2], ss[3], ss[5], ss[6]) != ("mounted", "on", "with", "fstype"):
            raise ValueError(f"invalid device {ss}")
        mount = Mount(ss[1], ss[4], ss[7])
        if len(ss) > 8:
            if mount.fstype not in NFS_TYPES:
                raise ValueError(f"cannot parse MountStats for {mount.fstype!r}")
            mount.stats, i = _parse_nfs(lines, i, ss[8].removeprefix("statvers="))
        mounts.append(mount)
    return mounts


def parse_mountinfo_addresses(text: str) -> list[str]:
    """The ``addr=`` super option of each /proc/self/mountinfo line ("" without one).

    Lines are checked as procfs's ``parseMountInfoString`` checks them: a malformed line
    fails the whole read.
    """
    addresses = []
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) < 10 or fields[-4] != "-":
            raise ValueError(f"malformed mountinfo line {line!r}")
        go_parse_int(fields[0])  # mount ID and parent ID: integers, or the line is malformed
        go_parse_int(fields[1])
        options: dict[str, str] = {}
        for option in fields[-1].split(","):
            key, _, value = option.partition("=")
            options[key] = value.split("=")[0]
        addresses.append(options.get("addr", ""))
    return addresses


class MountstatsCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        mounts = parse_mountstats(read_text(self.context.proc("self", "mountstats")))
        addresses = parse_mountinfo_addresses(read_text(self.context.proc("self", "mountinfo")))
        mount_families = [
            (GaugeFamily if suffix in GAUGES else CounterFamily)(PREFIX + suffix, documentation, labels=list(LABELS))
            for suffix, _, _, documentation in MOUNT_METRICS
        ]
        operation_families = [CounterFamily(PREFIX + suffix, documentation, labels=[*LABELS, "operation"])
                              for suffix, _, _, documentation in OPERATION_METRICS]
        seen: set[tuple[str, str, str]] = set()
        for index, mount in enumerate(mounts):
            stats = mount.stats
            if stats is None:
                continue
            address = addresses[index] if index < len(addresses) else ""
            labels = (mount.device, stats.protocol, address)
            if labels in seen:
                continue
            seen.add(labels)
            for family, (_, source, name, _) in zip(mount_families, MOUNT_METRICS, strict=True):
                if source == "age":
                    value = stats.age
                elif source == "bytes":
                    value = stats.bytes[name]
                elif source == "events":
                    value = stats.events[name]
                else:
                    value = stats.transport[name]
                    if name == "idle_time_seconds":
                        value %= FLOAT64_MANTISSA
                family.add_metric(labels, float(value))
            for operation, numbers in stats.operations:
                for family, (_, position, divisor, _) in zip(operation_families, OPERATION_METRICS, strict=True):
                    number = numbers[position]
                    if divisor != 1:
                        number %= FLOAT64_MANTISSA
                    family.add_metric([*labels, operation], float(number) / divisor)
        return [family for family in (*mount_families, *operation_families) if family.has_samples()]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=MountstatsCollector, enabled_by_default=False,
    help="Exposes filesystem statistics from /proc/self/mountstats. Exposes detailed NFS client statistics.",
    source="/proc/self/mountstats (NFS mounts)",
)
