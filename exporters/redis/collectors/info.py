"""``info``: INFO's fields through the mapping tables of ``exporters.redis.info``, the
replication fields, ``redis_start_time_seconds``, ``redis_instance_info`` and ``redis_slave_info``.

The sections other collectors own (Commandstats, Errorstats, Latencystats, the Keyspace
lines, the Sentinel fields) are left to them.
"""

from __future__ import annotations

import logging
import time

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.collectors.sentinel import is_sentinel_line
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.families import Families
from exporters.redis.info import (
    INFO_FIELDS,
    MASTER_DIRECT,
    MASTER_HOST,
    MASTER_LINK_STATUS,
    MASTER_PORT,
    PASSTHROUGH_PREFIXES,
    SYSTEM_FIELDS,
    InfoField,
    go_atoi,
    master_direct_metric,
    parse_keyspace,
    parse_number,
    parse_slave,
    parse_value,
    sanitize_metric_name,
)

# sections whose lines other collectors turn into metrics (commandstats.py)
OTHER_SECTIONS = frozenset({"Commandstats", "Latencystats", "Errorstats"})
INSTANCE_LABELS = ("role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy",
                   "tcp_port", "run_id", "process_id")


def field_row(key: str, include_system: bool) -> InfoField | None:
    """The table row of an INFO (or CLUSTER INFO, Tile38 SERVER EXT) field, if it has one."""
    row = INFO_FIELDS.get(key)
    if row is None and include_system:
        row = SYSTEM_FIELDS.get(key)
    if row is None and key.startswith(PASSTHROUGH_PREFIXES):
        row = InfoField(sanitize_metric_name(key))
    return row


def register_field(ctx: ScrapeContext, fam: Families, key: str, value: str) -> None:
    """One field's sample by its table row; fields without a row or a number are skipped."""
    row = field_row(key, ctx.options.include_system_metrics)
    if row is None:
        return
    number = parse_value(value)
    if number is None:
        ctx.log(logging.DEBUG, "couldn't parse INFO value", field=key)
        return
    fam.add(row.metric, row.type, number / row.divisor if row.divisor != 1.0 else number)


class InfoCollector(ScrapeCollector):
    def collect(self) -> list[Metric]:
        ctx = self.ctx
        fam = ctx.families()
        values: dict[str, str] = {}
        master_host = master_port = ""
        for line in ctx.lines:
            key, value, section = line.key, line.value, line.section
            values[key] = value
            if key.startswith("master"):  # the prefix both patterns require, tested cheaply first
                if MASTER_HOST.match(key):
                    master_host = value
                if MASTER_PORT.match(key):
                    master_port = value
            if section in OTHER_SECTIONS:
                continue
            if section == "Replication" and self._replication(fam, key, value, master_host, master_port):
                continue
            if section == "Server" and key == "uptime_in_seconds":
                uptime = parse_number(value)
                if uptime is not None:
                    fam.gauge("start_time_seconds", float(int(time.time())) - uptime)
            if section == "Keyspace" and parse_keyspace(key, value) is not None:
                continue
            if section == "Sentinel" and is_sentinel_line(key, value):
                continue
            register_field(ctx, fam, key, value)
        fam.gauge("instance_info", 1.0, {label: values.get(label, "") for label in INSTANCE_LABELS})
        if values.get("role") == "slave":
            fam.gauge("slave_info", 1.0, {
                "master_host": values.get("master_host", ""),
                "master_port": values.get("master_port", ""),
                "read_only": values.get("slave_read_only", ""),
            })
        return fam.metrics()

    @staticmethod
    def _replication(fam: Families, key: str, value: str, master_host: str, master_port: str) -> bool:
        master = {"master_host": master_host, "master_port": master_port}
        if MASTER_LINK_STATUS.match(key):
            fam.gauge("master_link_up", 1.0 if value == "up" else 0.0, master)
            return True
        if MASTER_DIRECT.match(key):
            fam.gauge(master_direct_metric(key), go_atoi(value), master)
            return True
        slave = parse_slave(key, value)
        if slave is not None:
            labels = {"slave_ip": slave.ip, "slave_port": slave.port, "slave_state": slave.state}
            fam.gauge("connected_slave_offset_bytes", slave.offset, labels)
            if slave.lag is not None:
                fam.gauge("connected_slave_lag_seconds", slave.lag, labels)
            return True
        return False


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="info", factory=InfoCollector,
    help="INFO ALL: the field tables, replication, instance_info, slave_info, start_time_seconds",
    source="INFO ALL",
    families=(
        FamilyDoc("start_time_seconds", "gauge", (), source="INFO Server `uptime_in_seconds`, from now"),
        FamilyDoc("instance_info", "gauge", INSTANCE_LABELS, source="INFO fields " + ", ".join(INSTANCE_LABELS)),
        FamilyDoc("slave_info", "gauge", ("master_host", "master_port", "read_only"),
                  source="INFO Replication, on a replica"),
        FamilyDoc("master_link_up", "gauge", ("master_host", "master_port"),
                  source="INFO Replication `master_link_status`"),
        FamilyDoc("master_last_io_seconds_ago", "gauge", ("master_host", "master_port"),
                  source="INFO Replication `master_last_io_seconds_ago`"),
        FamilyDoc("master_sync_in_progress", "gauge", ("master_host", "master_port"),
                  source="INFO Replication `master_sync_in_progress`"),
        FamilyDoc("slave_repl_offset", "gauge", ("master_host", "master_port"),
                  source="INFO Replication `slave_repl_offset`"),
        FamilyDoc("connected_slave_offset_bytes", "gauge", ("slave_ip", "slave_port", "slave_state"),
                  source="INFO Replication `slave<N>` offset"),
        FamilyDoc("connected_slave_lag_seconds", "gauge", ("slave_ip", "slave_port", "slave_state"),
                  source="INFO Replication `slave<N>` lag"),
    ),
)
