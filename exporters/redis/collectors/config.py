"""``config``: CONFIG GET * as redis_config_* gauges (``-include-config-metrics`` for every key)."""

from __future__ import annotations

from exporters.core.collector import CollectorSpec, FamilyDoc, NoDataError
from exporters.core.metrics import Metric
from exporters.redis.context import ScrapeCollector, ScrapeContext, ScrapeError
from exporters.redis.info import parse_number
from exporters.redis.resp import Reply, ReplyError

# CONFIG keys whose values are secrets: not exported with -redact-config-metrics (default on).
REDACTED_CONFIG_KEYS = frozenset({"masterauth", "requirepass", "tls-key-file-pass", "tls-client-key-file-pass"})
# CONFIG keys always exported as redis_config_<key> gauges.
CONFIG_GAUGES = frozenset({"io-threads", "maxclients", "maxmemory"})
_GAUGE_KEYS = tuple(sorted(key.encode() for key in CONFIG_GAUGES))


def config_map(config: Reply) -> dict[bytes, Reply]:
    """CONFIG GET *'s flat reply as a dict, in reply order; a reply of another shape fails the scrape."""
    if not isinstance(config, list) or len(config) % 2:
        raise ScrapeError("invalid config reply")
    return dict(zip(config[::2], config[1::2], strict=True))  # type: ignore[arg-type]


def config_databases(config: Reply) -> int:
    """The ``databases`` setting (0 when absent); an unreadable one fails the scrape, as upstream."""
    value = config_map(config).get(b"databases")
    if not isinstance(value, bytes):
        return 0
    text = value.decode("utf-8", "replace")
    try:
        return int(text)
    except ValueError:
        raise ScrapeError(f"invalid config value for key databases: {text!r}") from None


class ConfigCollector(ScrapeCollector):
    def applies(self) -> bool:
        return self.ctx.options.config_command != "-"

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        opts = ctx.options
        if isinstance(ctx.config, ReplyError):
            ctx.warn_once("config", f"{opts.config_command} GET * refused: no config metrics", ctx.config.message)
            raise NoDataError(f"{opts.config_command} GET * refused")
        fam = ctx.families()
        every_key = opts.include_config_metrics
        pairs = config_map(ctx.config)
        # a few hundred keys of which a default scrape exports three
        for key_raw in pairs if every_key else [k for k in _GAUGE_KEYS if k in pairs]:
            value_raw = pairs[key_raw]
            if not isinstance(key_raw, bytes) or not isinstance(value_raw, bytes):
                continue
            key = key_raw.decode("utf-8", "replace")
            value = value_raw.decode("utf-8", "replace")
            number = parse_number(value)
            if every_key and not (opts.redact_config_metrics and key in REDACTED_CONFIG_KEYS):
                fam.gauge("config_key_value", 1.0, {"key": key, "value": value})
                if number is not None:
                    fam.gauge("config_value", number, {"key": key})
            if key in CONFIG_GAUGES and number is not None:
                fam.gauge("config_" + key.replace("-", "_"), number)
        return fam.metrics()


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="config", factory=ConfigCollector, help="CONFIG GET *: maxclients, maxmemory, io-threads; every key "
    "with -include-config-metrics",
    families=(
        FamilyDoc("config_key_value", "gauge", ("key", "value"), source="CONFIG GET * (-include-config-metrics)"),
        FamilyDoc("config_value", "gauge", ("key",), source="CONFIG GET *, numeric values (-include-config-metrics)"),
        *(FamilyDoc("config_" + key.replace("-", "_"), "gauge", (), source=f"CONFIG GET * `{key}`")
          for key in sorted(CONFIG_GAUGES)),
    ),
)
