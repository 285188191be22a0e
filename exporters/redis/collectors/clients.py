"""``clients``: CLIENT LIST as redis_connected_clients_details (``-export-client-list``)."""

from __future__ import annotations

import time

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.replies import parse_client_line
from exporters.redis.resp import as_text

LABELS = ("name", "created_at", "idle_since", "flags", "db", "omem", "cmd", "host")


class ClientsCollector(ScrapeCollector):
    def applies(self) -> bool:
        return self.ctx.options.export_client_list

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        text = as_text(ctx.conn.command("CLIENT", "LIST"))
        fam = ctx.families()
        now = int(time.time())
        for line in text.split("\n"):
            client = parse_client_line(line.strip(), now)
            if client is None:
                continue
            labels = {k: client[k] for k in LABELS}
            if ctx.options.export_client_port:
                labels["port"] = client["port"]
            for optional in ("user", "resp"):
                if client.get(optional):
                    labels[optional] = client[optional]
            fam.gauge("connected_clients_details", 1.0, labels)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="clients", factory=ClientsCollector, help="CLIENT LIST, with -export-client-list",
    source="CLIENT LIST",
    families=(
        FamilyDoc("connected_clients_details", "gauge", (*LABELS, "port", "user", "resp"),
                  source="CLIENT LIST (port with -export-client-port; user and resp where the server has them)"),
    ),
)
