"""``keyspace``: INFO's Keyspace section as redis_db_keys{db} and friends; a database
without keys (absent from INFO) reports 0 keys, for every database the server has."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.info import parse_keyspace


class KeyspaceCollector(ScrapeCollector):
    def collect(self) -> list[Metric]:
        ctx = self.ctx
        fam = ctx.families()
        handled: set[str] = set()
        for line in ctx.section("Keyspace"):
            stats = parse_keyspace(line.key, line.value)
            if stats is None:
                continue
            labels = {"db": line.key}
            fam.gauge("db_keys", stats.keys, labels)
            fam.gauge("db_keys_expiring", stats.expires, labels)
            if stats.cached_keys is not None:
                fam.gauge("db_keys_cached", stats.cached_keys, labels)
            if stats.avg_ttl_seconds is not None:
                fam.gauge("db_avg_ttl_seconds", stats.avg_ttl_seconds, labels)
            handled.add(line.key)
        for index in range(ctx.databases):
            name = f"db{index}"
            if name not in handled:
                fam.gauge("db_keys", 0.0, {"db": name})
                fam.gauge("db_keys_expiring", 0.0, {"db": name})
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="keyspace", factory=KeyspaceCollector, help="INFO Keyspace: keys, expiring keys and average TTL per database",
    source="INFO Keyspace `db<N>`",
    families=(
        FamilyDoc("db_keys", "gauge", ("db",)),
        FamilyDoc("db_keys_expiring", "gauge", ("db",)),
        FamilyDoc("db_keys_cached", "gauge", ("db",), source="INFO Keyspace `db<N>` cached_keys (KeyDB)"),
        FamilyDoc("db_avg_ttl_seconds", "gauge", ("db",)),
    ),
)
