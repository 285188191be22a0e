"""Collects one scrape's samples into metric families with redis_exporter's names and help.

Families are created on first use and carry the label names of that first use; a later
sample with other label names for the same family is dropped (client_golang refuses it
too), so one odd server line cannot break the exposition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from exporters.core.exposition import format_value
from exporters.core.metrics import ExactFamily, Metric, Sample, exact_counter, exact_gauge

# Help texts of the families redis_exporter v1.58.0 describes (exporter.go); every other
# family's help is "<name> metric", as upstream writes it.
HELP: dict[str, str] = {
    "commands_duration_seconds_total": "Total amount of time in seconds spent per command",
    "commands_failed_calls_total": "Total number of errors prior command execution per command",
    "commands_rejected_calls_total": "Total number of errors within command execution per command",
    "commands_total": "Total number of calls per command",
    "commands_latencies_usec": "A histogram of latencies per command",
    "latency_percentiles_usec": "A summary of latency percentile distribution per command",
    "config_key_value": "Config key and value",
    "config_value": "Config key and value as metric",
    "connected_slave_lag_seconds": "Lag of connected slave",
    "connected_slave_offset_bytes": "Offset of connected slave",
    "connected_clients_details": "Details about connected clients",
    "db_avg_ttl_seconds": "Avg TTL in seconds",
    "db_keys": "Total number of keys by DB",
    "db_keys_expiring": "Total number of expiring keys by DB",
    "db_keys_cached": "Total number of cached keys by DB",
    "errors_total": "Total number of errors per error type",
    "exporter_last_scrape_error": "The last scrape error status.",
    "instance_info": "Information about the Redis instance",
    "key_size": 'The length or size of "key"',
    "key_value": 'The value of "key"',
    "key_value_as_string": 'The value of "key" as a string',
    "keys_count": "Count of keys",
    "last_slow_execution_duration_seconds": "The amount of time needed for last slow execution, in seconds",
    "latency_spike_duration_seconds": "Length of the last latency spike in seconds",
    "latency_spike_last": "When the latency spike last occurred",
    "master_last_io_seconds_ago": "Master last io seconds ago",
    "master_link_up": "Master link status on Redis slave",
    "master_sync_in_progress": "Master sync in progress",
    "script_result": "Result of the collect script evaluation",
    "script_values": "Values returned by the collect script",
    "sentinel_master_ok_sentinels": "The number of okay sentinels monitoring this master",
    "sentinel_master_ok_slaves": "The number of okay slaves of the master",
    "sentinel_master_sentinels": "The number of sentinels monitoring this master",
    "sentinel_master_slaves": "The number of slaves of the master",
    "sentinel_master_status": "Master status on Sentinel",
    "sentinel_master_ckquorum_status": "Master ckquorum status",
    "sentinel_masters": "The number of masters this sentinel is watching",
    "sentinel_master_setting_ckquorum": "Show the current ckquorum config for each master",
    "sentinel_master_setting_failover_timeout": "Show the current failover-timeout config for each master",
    "sentinel_master_setting_parallel_syncs": "Show the current parallel-syncs config for each master",
    "sentinel_master_setting_down_after_milliseconds":
        "Show the current down-after-milliseconds config for each master",
    "sentinel_running_scripts": "Number of scripts in execution right now",
    "sentinel_scripts_queue_length": "Queue of user scripts to execute",
    "sentinel_simulate_failure_flags": "Failures simulations",
    "sentinel_tilt": "Sentinel is in TILT mode",
    "key_group_count": "Count of keys in key group",
    "key_group_memory_usage_bytes": "Total memory usage of key group in bytes",
    "last_key_groups_scrape_duration_milliseconds": "Duration of the last key group metrics scrape in milliseconds",
    "number_of_distinct_key_groups": "Number of distinct key groups",
    "slave_info": "Information about the Redis slave",
    "slave_repl_offset": "Slave replication offset",
    "slowlog_last_id": "Last id of slowlog",
    "slowlog_length": "Total slowlog",
    "start_time_seconds": "Start time of the Redis instance since unix epoch in seconds.",
    "stream_group_consumer_idle_seconds": "Consumer idle time in seconds",
    "stream_group_consumer_messages_pending": "Pending number of messages for this specific consumer",
    "stream_group_consumers": "Consumers count of stream group",
    "stream_group_entries_read": "Total number of entries read from the stream group",
    "stream_group_lag": "The number of messages waiting to be delivered to the stream group's consumers",
    "stream_group_last_delivered_id": "The epoch timestamp (ms) of the last delivered message",
    "stream_group_messages_pending": "Pending number of messages in that stream group",
    "stream_groups": "Groups count of stream",
    "stream_last_generated_id": "The epoch timestamp (ms) of the latest message on the stream",
    "stream_length": "The number of elements of the stream",
    "stream_max_deleted_entry_id": "The epoch timestamp (ms) of last message was deleted from the stream",
    "stream_first_entry_id": "The epoch timestamp (ms) of the first message in the stream",
    "stream_last_entry_id": "The epoch timestamp (ms) of the last message in the stream",
    "stream_radix_tree_keys": 'Radix tree keys count"',
    "stream_radix_tree_nodes": "Radix tree nodes count",
    "up": "Information about the Redis instance",
    "exporter_scrapes_total": "Current total redis scrapes.",
    "exporter_scrape_duration_seconds": "Durations of scrapes by the exporter",
    "target_scrape_request_errors_total": "Errors in requests to the exporter",
    "exporter_build_info": "redis exporter build_info",
}


def help_for(name: str) -> str:
    return HELP.get(name, f"{name} metric")


class Families:
    """The families of one scrape, named ``<namespace>_<name>``."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._families: dict[str, Metric] = {}
        self._labels: dict[str, tuple[str, ...]] = {}
        # short name -> (family, its label names, its type): the lookup of add(), which
        # runs for every sample of a scrape
        self._by_name: dict[str, tuple[Metric, tuple[str, ...], str]] = {}

    def full_name(self, name: str) -> str:
        return f"{self.namespace}_{name}" if self.namespace else name

    def _family(self, name: str, typ: str, labels: Sequence[str]) -> Metric | None:
        names = tuple(labels)
        entry = self._by_name.get(name)
        if entry is not None:
            family, known, known_type = entry
            return family if known == names and known_type == typ else None
        full = self.full_name(name)
        existing = self._families.get(full)
        if existing is None:
            if typ == "counter":
                existing = exact_counter(full, help_for(name), names)
            elif typ == "gauge":
                existing = exact_gauge(full, help_for(name), names)
            else:
                existing = Metric(full, help_for(name), typ)
            self._families[full] = existing
            self._labels[full] = names
        self._by_name[name] = (existing, self._labels[full], existing.type)
        if self._labels[full] != names or existing.type != typ:
            return None
        return existing

    def add(self, name: str, typ: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        """One gauge or counter sample."""
        entry = self._by_name.get(name)
        names = tuple(labels) if labels else ()
        family: Metric | None
        if entry is None:
            family = self._family(name, typ, names)
        elif entry[1] == names and entry[2] == typ:
            family = entry[0]
        else:
            return
        if isinstance(family, ExactFamily):
            family.add_metric(tuple(map(str, labels.values())) if labels else (), value)

    def gauge(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.add(name, "gauge", value, labels)

    def counter(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        self.add(name, "counter", value, labels)

    def summary(
        self,
        name: str,
        labels: Mapping[str, str],
        count: float,
        total: float,
        quantiles: Mapping[float, float] | None = None,
    ) -> None:
        """A constant summary; quantile labels formatted as Go does ("50", "99.9")."""
        family = self._family(name, "summary", list(labels))
        if family is None:
            return
        full = family.name
        for quantile, value in sorted((quantiles or {}).items()):
            family.samples.append(
                Sample(full, {**labels, "quantile": format_value(quantile)}, float(value), None, None, None)
            )
        family.samples.append(Sample(full + "_sum", dict(labels), float(total), None, None, None))
        family.samples.append(Sample(full + "_count", dict(labels), float(count), None, None, None))

    def histogram(
        self,
        name: str,
        labels: Mapping[str, str],
        count: float,
        total: float,
        buckets: Mapping[float, float],
    ) -> None:
        """A constant histogram from cumulative bucket counts (upper bound -> count)."""
        family = self._family(name, "histogram", list(labels))
        if family is None:
            return
        full = family.name
        for bound, value in sorted(buckets.items()):
            family.samples.append(
                Sample(full + "_bucket", {**labels, "le": format_value(bound)}, float(value), None, None, None)
            )
        family.samples.append(Sample(full + "_bucket", {**labels, "le": "+Inf"}, float(count), None, None, None))
        family.samples.append(Sample(full + "_sum", dict(labels), float(total), None, None, None))
        family.samples.append(Sample(full + "_count", dict(labels), float(count), None, None, None))

    def metrics(self) -> list[Metric]:
        return list(self._families.values())
