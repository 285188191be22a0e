"""What differs between the reference redis_exporter (Debian's 1.45.0) and our target 1.58.0.

Each entry: a family name as prometheus_client's parser names it (counters without
``_total``) and why it differs. The side-by-side test fails on any difference not listed.
"""

from __future__ import annotations

# Families we emit (as 1.58.0 does) that 1.45.0 does not.
ONLY_IN_OURS: dict[str, str] = {
    "redis_commands_latencies_usec": "1.48 added the LATENCY HISTOGRAM histograms (Redis >= 7.0)",
    "redis_pubsubshard_channels": "1.55 added INFO pubsubshard_channels (Redis >= 7.0.3) to the gauge map",
    "redis_rdb_saves_total": "1.58 added INFO rdb_saves (Redis >= 7.0) to the gauge map",
    "redis_rdb_last_load_expired_keys": "1.58 added INFO rdb_last_load_keys_expired (Redis >= 7.0) to the gauge map",
    "redis_rdb_last_load_loaded_keys": "1.58 added INFO rdb_last_load_keys_loaded (Redis >= 7.0) to the gauge map",
    "redis_stream_first_entry_id": "1.52 added the stream's first entry ID from XINFO STREAM",
    "redis_stream_last_entry_id": "1.52 added the stream's last entry ID from XINFO STREAM",
    "redis_stream_max_deleted_entry_id": "1.52 added XINFO STREAM max-deleted-entry-id (Redis >= 7.0)",
    "redis_stream_group_entries_read": "1.52 added XINFO GROUPS entries-read (Redis >= 7.0)",
    "redis_stream_group_lag": "1.52 added XINFO GROUPS lag (Redis >= 7.0)",
    "redis_sentinel_master_setting_ckquorum": "1.56 added the SENTINEL MASTERS settings gauges",
    "redis_sentinel_master_setting_failover_timeout": "1.56 added the SENTINEL MASTERS settings gauges",
    "redis_sentinel_master_setting_parallel_syncs": "1.56 added the SENTINEL MASTERS settings gauges",
    "redis_sentinel_master_setting_down_after_milliseconds": "1.56 added the SENTINEL MASTERS settings gauges",
    "redis_script_result": "1.46 added script_result{filename} (1 ok, 0 error, 2 empty result) for -script",
}

# Families 1.45.0 emits that we do not.
ONLY_IN_REFERENCE: dict[str, str] = {}

# Families both emit whose stable values legitimately differ.
VALUE_DIFFERENCES: dict[str, str] = {}

# Families both emit with different label names.
LABEL_DIFFERENCES: dict[str, str] = {
    "redis_script_values": "1.46 added the filename label: -script takes several comma-separated files",
    "redis_connected_clients_details": "1.49 added the user and resp labels from CLIENT LIST (Redis >= 6.0)",
}

# Families of ours that no redis_exporter version has.
ONLY_IN_OURS.update({
    "redis_scrape_collector_success": "ours: one row per collector that ran (config, info, keys, ...); 0 when it "
                                      "failed and cost only its own metrics",
    "redis_scrape_collector_duration_seconds": "ours: how long each collector of the scrape took",
    "redis_exporter_last_scrape_limit_reached": "ours: which limit (checked keys, key value bytes, reply bytes, "
                                                "scrape bytes) cut the scrape short",
})

# Families both emit with different help text.
HELP_DIFFERENCES: dict[str, str] = {}

# Where we deliberately behave unlike redis_exporter 1.58.0 itself (not a 1.45 difference).
DELIBERATE: dict[str, str] = {
    "redis_key_size": "a string's size uses PFCOUNT only when it is a HyperLogLog (HYLL header); upstream tries "
                      "PFCOUNT first and so adds a WRONGTYPE error to errorstats for every plain string checked",
    "redis_key_value_as_string": "not exported for HyperLogLogs (binary); client_golang drops those anyway",
    "redis_db_keys": "keyspace fields are read by name: a 4th field other than cached_keys (Redis 7.4 subexpiry) "
                     "is not taken for redis_db_keys_cached",
    "redis_commands_latencies_usec": "LATENCY HISTOGRAM is not sent to servers older than 7.0, where it only "
                                     "adds an ERR to errorstats on every scrape",
    "redis_sentinel_master_setting_ckquorum": "read from SENTINEL MASTERS' quorum field; upstream reads a ckquorum "
                                              "field that does not exist and always reports 0",
    "redis_exporter_last_scrape_error": "a scrape is bounded by the scrape deadline (X-Prometheus-Scrape-Timeout-"
                                        "Seconds) as well as -connection-timeout; upstream waits up to 15 s",
    "redis_* (INFO fields)": "a mapped INFO field whose value is not a number is left out instead of being "
                             "reported as 0",
    "redis_stream_first_entry_id": "read by field name; upstream reads fixed positions of the XINFO STREAM reply "
                                   "and reports 0 on Redis 6.2",
}
