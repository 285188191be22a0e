"""``tile38``: Tile38's SERVER EXT, field/value pairs named as the tile38_* rows of the INFO
table (``-is-tile38``)."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.collectors.info import register_field
from exporters.redis.context import ScrapeCollector, ScrapeContext
from exporters.redis.resp import as_text


class Tile38Collector(ScrapeCollector):
    def applies(self) -> bool:
        return self.ctx.options.is_tile38

    def collect(self) -> list[Metric]:
        reply = self.ctx.conn.command("SERVER", "EXT")
        fam = self.ctx.families()
        if not isinstance(reply, list):
            return fam.metrics()
        for i in range(0, len(reply) - 1, 2):
            key, raw = reply[i], reply[i + 1]
            if not isinstance(key, bytes) or not isinstance(raw, (bytes, int)):
                continue
            name = as_text(key)
            register_field(self.ctx, fam, name if name.startswith("tile38_") else "tile38_" + name, as_text(raw))
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="tile38", factory=Tile38Collector, help="Tile38 SERVER EXT, with -is-tile38",
    families=(
        FamilyDoc("tile38_<field>", "gauge", (), source="Tile38 SERVER EXT fields no table row names are dropped"),
    ),
)
