"""INFO field tables and the pure parsers for INFO, CLUSTER INFO and their value formats.

One row per INFO field: field -> (metric name without namespace, type, unit divisor), as
redis_exporter v1.58.0's ``metricMapGauges`` / ``metricMapCounters``. Fields absent from
the tables are ignored (newer servers add fields all the time), except ``cluster_*``,
which upstream exports under their own names as gauges.

The parsers take text and return plain values; they never raise on malformed input:
a line that cannot be read is skipped (``None``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

MetricType = Literal["gauge", "counter"]
GAUGE: MetricType = "gauge"
COUNTER: MetricType = "counter"


@dataclass(frozen=True)
class InfoField:
    """Where one INFO field goes (``section``: where it is found, for the metrics reference)."""

    metric: str
    type: MetricType = GAUGE
    divisor: float = 1.0  # unit conversion: the INFO value is divided by this
    section: str = ""


def _table(rows: list[str | tuple[str, str, MetricType] | tuple[str, str, MetricType, float]]) -> dict[str, InfoField]:
    """The table of ``rows``: (field, metric, type[, divisor]), each under the last section name."""
    table: dict[str, InfoField] = {}
    section = ""
    for row in rows:
        if isinstance(row, str):
            section = row
            continue
        field, metric, typ = row[0], row[1], row[2]
        divisor = row[3] if len(row) == 4 else 1.0
        if field in table:
            raise ValueError(f"duplicate INFO field {field!r}")
        table[field] = InfoField(metric, typ, divisor, section)
    return table


G, C = GAUGE, COUNTER

# redis_exporter v1.58.0 exporter.go metricMapGauges and metricMapCounters.
INFO_FIELDS: dict[str, InfoField] = _table([
    "INFO Server",
    ("uptime_in_seconds", "uptime_in_seconds", G),
    ("process_id", "process_id", G),
    ("io_threads_active", "io_threads_active", G),
    "INFO Clients",
    ("connected_clients", "connected_clients", G),
    ("blocked_clients", "blocked_clients", G),
    ("tracking_clients", "tracking_clients", G),
    ("clients_in_timeout_table", "clients_in_timeout_table", G),
    ("client_longest_output_list", "client_longest_output_list", G),  # Redis < 5
    ("client_biggest_input_buf", "client_biggest_input_buf", G),  # Redis < 5
    ("client_recent_max_output_buffer", "client_recent_max_output_buffer_bytes", G),  # Redis >= 5
    ("client_recent_max_input_buffer", "client_recent_max_input_buffer_bytes", G),  # Redis >= 5
    "INFO Memory",
    ("allocator_active", "allocator_active_bytes", G),
    ("allocator_allocated", "allocator_allocated_bytes", G),
    ("allocator_resident", "allocator_resident_bytes", G),
    ("allocator_frag_ratio", "allocator_frag_ratio", G),
    ("allocator_frag_bytes", "allocator_frag_bytes", G),
    ("allocator_rss_ratio", "allocator_rss_ratio", G),
    ("allocator_rss_bytes", "allocator_rss_bytes", G),
    ("used_memory", "memory_used_bytes", G),
    ("used_memory_rss", "memory_used_rss_bytes", G),
    ("used_memory_peak", "memory_used_peak_bytes", G),
    ("used_memory_lua", "memory_used_lua_bytes", G),
    ("used_memory_overhead", "memory_used_overhead_bytes", G),
    ("used_memory_startup", "memory_used_startup_bytes", G),
    ("used_memory_dataset", "memory_used_dataset_bytes", G),
    ("used_memory_scripts", "memory_used_scripts_bytes", G),
    ("number_of_cached_scripts", "number_of_cached_scripts", G),
    ("maxmemory", "memory_max_bytes", G),
    ("maxmemory_reservation", "memory_max_reservation_bytes", G),
    ("maxmemory_desired_reservation", "memory_max_reservation_desired_bytes", G),
    ("maxfragmentationmemory_reservation", "memory_max_fragmentation_reservation_bytes", G),
    ("maxfragmentationmemory_desired_reservation", "memory_max_fragmentation_reservation_desired_bytes", G),
    ("mem_fragmentation_ratio", "mem_fragmentation_ratio", G),
    ("mem_fragmentation_bytes", "mem_fragmentation_bytes", G),
    ("mem_clients_slaves", "mem_clients_slaves", G),
    ("mem_clients_normal", "mem_clients_normal", G),
    ("expired_stale_perc", "expired_stale_percentage", G),
    ("mem_not_counted_for_evict", "mem_not_counted_for_eviction_bytes", G),
    ("lazyfree_pending_objects", "lazyfree_pending_objects", G),
    ("active_defrag_running", "active_defrag_running", G),
    ("migrate_cached_sockets", "migrate_cached_sockets_total", G),
    ("active_defrag_hits", "defrag_hits", G),
    ("active_defrag_misses", "defrag_misses", G),
    ("active_defrag_key_hits", "defrag_key_hits", G),
    ("active_defrag_key_misses", "defrag_key_misses", G),
    ("expired_time_cap_reached_count", "expired_time_cap_reached_total", G),
    "INFO Persistence",
    ("loading", "loading_dump_file", G),
    ("rdb_changes_since_last_save", "rdb_changes_since_last_save", G),
    ("rdb_bgsave_in_progress", "rdb_bgsave_in_progress", G),
    ("rdb_last_save_time", "rdb_last_save_timestamp_seconds", G),
    ("rdb_last_bgsave_status", "rdb_last_bgsave_status", G),
    ("rdb_last_bgsave_time_sec", "rdb_last_bgsave_duration_sec", G),
    ("rdb_current_bgsave_time_sec", "rdb_current_bgsave_duration_sec", G),
    ("rdb_saves", "rdb_saves_total", G),
    ("rdb_last_cow_size", "rdb_last_cow_size_bytes", G),
    ("rdb_last_load_keys_expired", "rdb_last_load_expired_keys", G),
    ("rdb_last_load_keys_loaded", "rdb_last_load_loaded_keys", G),
    ("aof_enabled", "aof_enabled", G),
    ("aof_rewrite_in_progress", "aof_rewrite_in_progress", G),
    ("aof_rewrite_scheduled", "aof_rewrite_scheduled", G),
    ("aof_last_rewrite_time_sec", "aof_last_rewrite_duration_sec", G),
    ("aof_current_rewrite_time_sec", "aof_current_rewrite_duration_sec", G),
    ("aof_last_cow_size", "aof_last_cow_size_bytes", G),
    ("aof_current_size", "aof_current_size_bytes", G),
    ("aof_base_size", "aof_base_size_bytes", G),
    ("aof_pending_rewrite", "aof_pending_rewrite", G),
    ("aof_buffer_length", "aof_buffer_length", G),
    ("aof_rewrite_buffer_length", "aof_rewrite_buffer_length", G),
    ("aof_pending_bio_fsync", "aof_pending_bio_fsync", G),
    ("aof_delayed_fsync", "aof_delayed_fsync", G),
    ("aof_last_bgrewrite_status", "aof_last_bgrewrite_status", G),
    ("aof_last_write_status", "aof_last_write_status", G),
    ("module_fork_in_progress", "module_fork_in_progress", G),
    ("module_fork_last_cow_size", "module_fork_last_cow_size", G),
    "INFO Stats",
    ("pubsub_channels", "pubsub_channels", G),
    ("pubsub_patterns", "pubsub_patterns", G),
    ("pubsubshard_channels", "pubsubshard_channels", G),  # Redis 7.0.3
    ("latest_fork_usec", "latest_fork_seconds", G, 1e6),
    ("tracking_total_keys", "tracking_total_keys", G),
    ("tracking_total_items", "tracking_total_items", G),
    ("tracking_total_prefixes", "tracking_total_prefixes", G),
    ("total_connections_received", "connections_received_total", C),
    ("total_commands_processed", "commands_processed_total", C),
    ("rejected_connections", "rejected_connections_total", C),
    ("total_net_input_bytes", "net_input_bytes_total", C),
    ("total_net_output_bytes", "net_output_bytes_total", C),
    ("expired_keys", "expired_keys_total", C),
    ("cached_keys", "cached_keys_total", C),
    ("evicted_keys", "evicted_keys_total", C),
    ("keyspace_hits", "keyspace_hits_total", C),
    ("keyspace_misses", "keyspace_misses_total", C),
    ("unexpected_error_replies", "unexpected_error_replies", C),
    ("total_error_replies", "total_error_replies", C),
    ("total_reads_processed", "total_reads_processed", C),
    ("total_writes_processed", "total_writes_processed", C),
    ("io_threaded_reads_processed", "io_threaded_reads_processed", C),
    ("io_threaded_writes_processed", "io_threaded_writes_processed", C),
    ("dump_payload_sanitizations", "dump_payload_sanitizations", C),
    "INFO CPU",
    ("used_cpu_sys", "cpu_sys_seconds_total", C),
    ("used_cpu_user", "cpu_user_seconds_total", C),
    ("used_cpu_sys_children", "cpu_sys_children_seconds_total", C),
    ("used_cpu_user_children", "cpu_user_children_seconds_total", C),
    ("used_cpu_sys_main_thread", "cpu_sys_main_thread_seconds_total", C),
    ("used_cpu_user_main_thread", "cpu_user_main_thread_seconds_total", C),
    "INFO Replication",
    ("connected_slaves", "connected_slaves", G),
    ("repl_backlog_size", "replication_backlog_bytes", G),
    ("repl_backlog_active", "repl_backlog_is_active", G),
    ("repl_backlog_first_byte_offset", "repl_backlog_first_byte_offset", G),
    ("repl_backlog_histlen", "repl_backlog_history_bytes", G),
    ("master_repl_offset", "master_repl_offset", G),
    ("second_repl_offset", "second_repl_offset", G),
    ("slave_expires_tracked_keys", "slave_expires_tracked_keys", G),
    ("slave_priority", "slave_priority", G),
    ("sync_full", "replica_resyncs_full", G),
    ("sync_partial_ok", "replica_partial_resync_accepted", G),
    ("sync_partial_err", "replica_partial_resync_denied", G),
    "CLUSTER INFO",
    ("cluster_stats_messages_sent", "cluster_messages_sent_total", G),
    ("cluster_stats_messages_received", "cluster_messages_received_total", G),
    "Tile38 SERVER EXT",  # same names as INFO fields
    ("tile38_aof_size", "tile38_aof_size_bytes", G),
    ("tile38_avg_point_size", "tile38_avg_item_size_bytes", G),
    ("tile38_sys_cpus", "tile38_cpus_total", G),
    ("tile38_heap_released_bytes", "tile38_heap_released_bytes", G),
    ("tile38_heap_alloc_bytes", "tile38_heap_size_bytes", G),
    ("tile38_http_transport", "tile38_http_transport", G),
    ("tile38_in_memory_size", "tile38_in_memory_size_bytes", G),
    ("tile38_max_heap_size", "tile38_max_heap_size_bytes", G),
    ("tile38_alloc_bytes", "tile38_mem_alloc_bytes", G),
    ("tile38_num_collections", "tile38_num_collections_total", G),
    ("tile38_num_hooks", "tile38_num_hooks_total", G),
    ("tile38_num_objects", "tile38_num_objects_total", G),
    ("tile38_num_points", "tile38_num_points_total", G),
    ("tile38_pointer_size", "tile38_pointer_size_bytes", G),
    ("tile38_read_only", "tile38_read_only", G),
    ("tile38_go_threads", "tile38_threads_total", G),
    ("tile38_go_goroutines", "tile38_go_goroutines_total", G),
    ("tile38_last_gc_time_seconds", "tile38_last_gc_time_seconds", G),
    ("tile38_next_gc_bytes", "tile38_next_gc_bytes", G),
    "INFO (KeyDB)",
    ("server_threads", "server_threads_total", G),
    ("long_lock_waits", "long_lock_waits_total", G),
    ("current_client_thread", "current_client_thread", G),
    ("storage_provider_read_hits", "storage_provider_read_hits", C),
    ("storage_provider_read_misses", "storage_provider_read_misses", C),
])

# Only with -include-system-metrics (the host's memory, not Redis's).
SYSTEM_FIELDS: dict[str, InfoField] = _table([
    "INFO Memory",
    ("total_system_memory", "total_system_memory_bytes", G),
])

# Fields exported under their own name as gauges although no table lists them.
PASSTHROUGH_PREFIXES = ("cluster_",)

# Values that are words rather than numbers (rdb_last_bgsave_status:ok, cluster_state:fail).
WORD_VALUES = {"ok": 1.0, "true": 1.0, "err": 0.0, "fail": 0.0, "false": 0.0}

_METRIC_NAME_BAD = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_metric_name(name: str) -> str:
    return _METRIC_NAME_BAD.sub("_", name)


def parse_number(text: str) -> float | None:
    """A number as Go's ``strconv.ParseFloat`` reads it; ``None`` when it is not one."""
    raw = text.strip()
    if not raw or "_" in raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def parse_value(text: str) -> float | None:
    """An INFO value: a number, or one of the words ok/true/err/fail/false."""
    word = WORD_VALUES.get(text.strip())
    return word if word is not None else parse_number(text)


class InfoLine(NamedTuple):
    section: str
    key: str
    value: str


def parse_info(text: str) -> list[InfoLine]:
    """INFO output as (section, key, value) lines; headers set the section."""
    lines: list[InfoLine] = []
    section = ""
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("# "):
            section = line[2:].strip()
            continue
        if len(line) < 2 or ":" not in line:
            continue
        key, _, value = line.partition(":")
        lines.append(InfoLine(section, key, value))
    return lines


def parse_cluster_info(text: str) -> list[tuple[str, str]]:
    """CLUSTER INFO output as (key, value) pairs."""
    pairs: list[tuple[str, str]] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        parts = raw.strip().split(":")
        if len(parts) != 2 or not parts[0]:
            continue
        pairs.append((parts[0], parts[1]))
    return pairs


def _key_values(text: str, sep: str = ",") -> dict[str, str] | None:
    """``a=1,b=2`` as a dict; ``None`` when a part is not ``key=value``."""
    out: dict[str, str] = {}
    for part in text.split(sep):
        key, eq, value = part.partition("=")
        if not eq or not key or "=" in value:
            return None
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class KeyspaceStats:
    keys: float
    expires: float
    avg_ttl_seconds: float | None = None
    cached_keys: float | None = None


def parse_keyspace(key: str, value: str) -> KeyspaceStats | None:
    """``db0:keys=1,expires=0,avg_ttl=0`` (``cached_keys`` on KeyDB), fields by name."""
    if not re.fullmatch(r"db\d+", key):
        return None
    fields = _key_values(value)
    if fields is None or "keys" not in fields or "expires" not in fields:
        return None
    keys = parse_number(fields["keys"])
    expires = parse_number(fields["expires"])
    if keys is None or expires is None:
        return None
    avg_ttl: float | None = None
    if "avg_ttl" in fields:
        ttl = parse_number(fields["avg_ttl"])
        if ttl is None:
            return None
        avg_ttl = ttl / 1000.0
    cached: float | None = None
    if "cached_keys" in fields:
        cached = parse_number(fields["cached_keys"])
        if cached is None:
            return None
    return KeyspaceStats(keys, expires, avg_ttl, cached)


@dataclass(frozen=True)
class CommandStat:
    cmd: str
    calls: float
    usec: float
    rejected_calls: float | None = None  # Redis >= 6.2
    failed_calls: float | None = None  # Redis >= 6.2


def parse_commandstat(key: str, value: str) -> CommandStat | None:
    """``cmdstat_get:calls=21,usec=175,usec_per_call=8.33[,rejected_calls=0,failed_calls=0]``."""
    if not key.startswith("cmdstat_") or len(key) == len("cmdstat_"):
        return None
    fields = _key_values(value)
    if fields is None:
        return None
    calls = parse_number(fields.get("calls", ""))
    usec = parse_number(fields.get("usec", ""))
    if calls is None or usec is None:
        return None
    rejected = failed = None
    if "rejected_calls" in fields or "failed_calls" in fields:
        rejected = parse_number(fields.get("rejected_calls", ""))
        failed = parse_number(fields.get("failed_calls", ""))
        if rejected is None or failed is None:
            return None
    return CommandStat(key[len("cmdstat_"):], calls, usec, rejected, failed)


def parse_latencystat(key: str, value: str) -> tuple[str, dict[float, float]] | None:
    """``latency_percentiles_usec_get:p50=1.003,p99=2.007,p99.9=5.023`` (Redis >= 7.0)."""
    prefix = "latency_percentiles_usec_"
    if not key.startswith(prefix) or len(key) == len(prefix):
        return None
    fields = _key_values(value)
    if not fields:
        return None
    quantiles: dict[float, float] = {}
    for name, raw in fields.items():
        if not name.startswith("p"):
            return None
        percentile = parse_number(name[1:])
        number = parse_number(raw)
        if percentile is None or number is None:
            return None
        quantiles[percentile] = number
    return key[len(prefix):], quantiles


def parse_errorstat(key: str, value: str) -> tuple[str, float] | None:
    """``errorstat_ERR:count=4`` (Redis >= 6.2)."""
    if not key.startswith("errorstat_") or len(key) == len("errorstat_"):
        return None
    fields = _key_values(value)
    if fields is None or len(fields) != 1 or "count" not in fields:
        return None
    count = parse_number(fields["count"])
    if count is None:
        return None
    return key[len("errorstat_"):], count


@dataclass(frozen=True)
class SlaveInfo:
    ip: str
    port: str
    state: str
    offset: float
    lag: float | None  # absent before Redis 3.0


_SLAVE_KEY = re.compile(r"slave\d+")


def parse_slave(key: str, value: str) -> SlaveInfo | None:
    """``slave0:ip=10.0.0.1,port=6379,state=online,offset=1751844676,lag=0``."""
    if not _SLAVE_KEY.match(key):
        return None
    fields = _key_values(value)
    if fields is None:
        return None
    offset = parse_number(fields.get("offset", ""))
    if offset is None:
        return None
    lag: float | None = None
    if "lag" in fields:
        lag = parse_number(fields["lag"])
        if lag is None:
            return None
    return SlaveInfo(fields.get("ip", ""), fields.get("port", ""), fields.get("state", ""), offset, lag)


# KeyDB multi-master writes master_1_host, master_1_port ... besides master_host.
MASTER_HOST = re.compile(r"^master(_[0-9]+)?_host")
MASTER_PORT = re.compile(r"^master(_[0-9]+)?_port")
MASTER_LINK_STATUS = re.compile(r"^master(_[0-9]+)?_link_status")
# Replica fields exported with master_host/master_port labels.
MASTER_DIRECT = re.compile(r"^(master(_[0-9]+)?_(last_io_seconds_ago|sync_in_progress)|slave_repl_offset)")


def master_direct_metric(key: str) -> str:
    """The metric a MASTER_DIRECT field becomes (KeyDB's numbered masters share one)."""
    if key.endswith("last_io_seconds_ago"):
        return "master_last_io_seconds_ago"
    if key.endswith("sync_in_progress"):
        return "master_sync_in_progress"
    return sanitize_metric_name(key)


def go_atoi(text: str) -> float:
    """strconv.Atoi's value, 0 when it is not an integer (upstream ignores the error)."""
    try:
        return float(int(text.strip(), 10))
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class SentinelMaster:
    name: str
    status: str
    address: str
    slaves: float
    sentinels: float


_SENTINEL_MASTER_KEY = re.compile(r"master\d+")


def parse_sentinel_master(key: str, value: str) -> SentinelMaster | None:
    """Sentinel's ``master0:name=mymaster,status=ok,address=10.0.0.1:6379,slaves=1,sentinels=3``."""
    if not _SENTINEL_MASTER_KEY.match(key):
        return None
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, eq, rest = part.partition("=")
        if eq and "=" not in rest:
            fields[name] = rest
    slaves = parse_number(fields.get("slaves", ""))
    sentinels = parse_number(fields.get("sentinels", ""))
    if slaves is None or sentinels is None:
        return None
    return SentinelMaster(fields.get("name", ""), fields.get("status", ""), fields.get("address", ""),
                          slaves, sentinels)
