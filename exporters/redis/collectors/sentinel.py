"""``sentinel``: INFO's Sentinel section and SENTINEL MASTERS / CKQUORUM / SENTINELS / SLAVES,
when the target is a Sentinel."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.families import Families
from exporters.redis.info import go_atoi, parse_number, parse_sentinel_master
from exporters.redis.replies import reply_map
from exporters.redis.resp import Connection, Reply, ReplyError, as_text

# INFO Sentinel fields exported under their own name (integers, 0 when unreadable).
SENTINEL_GAUGES = frozenset({
    "sentinel_masters", "sentinel_tilt", "sentinel_running_scripts", "sentinel_scripts_queue_length",
    "sentinel_simulate_failure_flags",
})

# SENTINEL MASTERS field -> gauge (labels master_name, master_address). The quorum is in
# the field "quorum"; upstream reads a "ckquorum" field Sentinel does not have, always 0.
MASTER_SETTINGS = {
    "quorum": "sentinel_master_setting_ckquorum",
    "failover-timeout": "sentinel_master_setting_failover_timeout",
    "parallel-syncs": "sentinel_master_setting_parallel_syncs",
    "down-after-milliseconds": "sentinel_master_setting_down_after_milliseconds",
}


def is_sentinel_line(key: str, value: str) -> bool:
    """Whether ``sentinel_info_line`` turns this Sentinel-section line into metrics."""
    return key in SENTINEL_GAUGES or parse_sentinel_master(key, value) is not None


def sentinel_info_line(families: Families, key: str, value: str) -> bool:
    """Handle one INFO line of the Sentinel section; False when it is not a sentinel field."""
    if key in SENTINEL_GAUGES:
        families.gauge(key, go_atoi(value))
        return True
    master = parse_sentinel_master(key, value)
    if master is None:
        return False
    labels = {"master_name": master.name, "master_address": master.address}
    families.gauge("sentinel_master_status", 1.0 if master.status == "ok" else 0.0,
                   {**labels, "master_status": master.status})
    families.gauge("sentinel_master_slaves", master.slaves, labels)
    families.gauge("sentinel_master_sentinels", master.sentinels, labels)
    return True


def _healthy(entries: Reply) -> int:
    """Entries whose flags say neither o_down nor s_down."""
    count = 0
    for entry in entries if isinstance(entries, list) else []:
        flags = reply_map(entry).get("flags")
        if flags is None:
            continue
        text = as_text(flags) if isinstance(flags, bytes) else ""
        if "o_down" in text or "s_down" in text:
            continue
        count += 1
    return count


def sentinel_masters(conn: Connection, families: Families) -> None:
    """Per-master gauges from SENTINEL MASTERS and the commands about each master."""
    try:
        masters = conn.command("SENTINEL", "MASTERS")
    except ReplyError:
        return
    for entry in masters if isinstance(masters, list) else []:
        details = {k: as_text(v) for k, v in reply_map(entry).items() if isinstance(v, bytes)}
        name, ip, port = details.get("name"), details.get("ip"), details.get("port")
        if name is None or ip is None or port is None:
            continue
        labels = {"master_name": name, "master_address": f"{ip}:{port}"}
        try:
            message = as_text(conn.command("SENTINEL", "CKQUORUM", name))
            status = 1.0
        except ReplyError as err:
            message, status = err.message, 0.0
        families.gauge("sentinel_master_ckquorum_status", status, {"master_name": name, "message": message})
        for field, metric in MASTER_SETTINGS.items():
            number = parse_number(details.get(field, ""))
            families.gauge(metric, number if number is not None else 0.0, labels)
        try:
            sentinels = conn.command("SENTINEL", "SENTINELS", name)
        except ReplyError:
            sentinels = None
        # this sentinel counts itself: it is answering, so the master is in its view
        families.gauge("sentinel_master_ok_sentinels", float(1 + _healthy(sentinels)), labels)
        try:
            slaves = conn.command("SENTINEL", "SLAVES", name)
        except ReplyError:
            slaves = None
        families.gauge("sentinel_master_ok_slaves", float(_healthy(slaves)), labels)


class SentinelCollector(ScrapeCollector):
    def __init__(self, ctx: ScrapeContext) -> None:
        super().__init__(ctx)
        self.lines = ctx.section("Sentinel")

    def applies(self) -> bool:
        return bool(self.lines)

    def collect(self) -> list[Metric]:
        fam = self.ctx.families()
        for line in self.lines:
            sentinel_info_line(fam, line.key, line.value)
        sentinel_masters(self.ctx.conn, fam)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="sentinel", factory=SentinelCollector,
    help="INFO Sentinel and SENTINEL MASTERS, CKQUORUM, SENTINELS, SLAVES, when the target is a Sentinel",
    families=(
        *(FamilyDoc(key, "gauge", (), source=f"INFO Sentinel `{key}`") for key in sorted(SENTINEL_GAUGES)),
        FamilyDoc("sentinel_master_status", "gauge", ("master_address", "master_name", "master_status"),
                  source="INFO Sentinel `master<N>`"),
        FamilyDoc("sentinel_master_slaves", "gauge", ("master_address", "master_name"),
                  source="INFO Sentinel `master<N>`"),
        FamilyDoc("sentinel_master_sentinels", "gauge", ("master_address", "master_name"),
                  source="INFO Sentinel `master<N>`"),
        FamilyDoc("sentinel_master_ckquorum_status", "gauge", ("master_name", "message"),
                  source="SENTINEL CKQUORUM <master>"),
        *(FamilyDoc(metric, "gauge", ("master_address", "master_name"), source=f"SENTINEL MASTERS `{field}`")
          for field, metric in MASTER_SETTINGS.items()),
        FamilyDoc("sentinel_master_ok_sentinels", "gauge", ("master_address", "master_name"),
                  source="SENTINEL SENTINELS <master>"),
        FamilyDoc("sentinel_master_ok_slaves", "gauge", ("master_address", "master_name"),
                  source="SENTINEL SLAVES <master>"),
    ),
)
