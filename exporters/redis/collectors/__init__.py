"""The redis exporter's collectors, in the order a scrape runs them (upstream's order).

Each module has a ``SPEC`` whose factory builds the collector for one scrape from its
``ScrapeContext``. A collector's ``applies()`` says whether it has anything to do for this
target and these options (the cluster collector only in cluster mode, the key checks only
when asked for); ``commands()``, where present, names what it needs from the scrape's second
pipeline. Each collector that runs reports ``redis_scrape_collector_success{collector}``.
"""

from __future__ import annotations

from exporters.core.collector import CollectorSpec
from exporters.redis.collectors import (
    clients,
    cluster,
    commandstats,
    config,
    count_keys,
    info,
    key_groups,
    keys,
    keyspace,
    latency,
    scripts,
    sentinel,
    slowlog,
    streams,
    tile38,
)
from exporters.redis.context import ScrapeContext

SPECS: tuple[CollectorSpec[ScrapeContext], ...] = tuple(module.SPEC for module in (
    config, cluster, info, keyspace, commandstats, latency, slowlog, sentinel, clients, tile38,
    keys, streams, count_keys, key_groups, scripts,
))
