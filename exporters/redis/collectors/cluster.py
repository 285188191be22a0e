"""``cluster``: CLUSTER INFO's fields (cluster_state, cluster_slots_*, ...) in cluster mode."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.collectors.info import register_field
from exporters.redis.context import Command, ScrapeCollector, ScrapeContext
from exporters.redis.info import parse_cluster_info
from exporters.redis.resp import ReplyError, as_text

CLUSTER_INFO: Command = ("CLUSTER", "INFO")


class ClusterCollector(ScrapeCollector):
    def applies(self) -> bool:
        return self.ctx.cluster

    def commands(self) -> list[Command]:
        return [CLUSTER_INFO]

    def collect(self) -> list[Metric]:
        reply = self.ctx.replies[CLUSTER_INFO]
        if isinstance(reply, ReplyError):
            raise reply
        fam = self.ctx.families()
        for key, value in parse_cluster_info(as_text(reply)):
            register_field(self.ctx, fam, key, value)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="cluster", factory=ClusterCollector, help="CLUSTER INFO, when INFO says cluster_enabled:1",
    families=(
        FamilyDoc("cluster_<field>", "gauge", (), source="CLUSTER INFO fields starting with cluster_ that no table row "
                  "names"),
    ),
)
