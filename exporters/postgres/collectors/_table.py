"""What the collector modules share: their configuration and the helpers that write their maps.

Upstream's collector package reads fixed columns into fixed families, without the
per-server labels of its namespaces: ``table()`` builds such a ``MetricMap``, with the
family names spelled out in full so that ``grep`` finds them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from exporters.core.collector import CollectorSpec
from exporters.postgres.engine import ColumnMap, MetricMap, QueryCollector

ALL = ">=0.0.0"


@dataclass(frozen=True)
class CollectorConfig:
    """What a collector is built from: the parsed options it reads and the logger."""

    exclude_databases: tuple[str, ...] = ()
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("exporters.postgres"))


def counter(column: str, name: str, help_text: str, null: float | None = 0.0) -> ColumnMap:
    return ColumnMap(column, "COUNTER", help_text, metric=name, null=null)


def gauge(column: str, name: str, help_text: str, null: float | None = 0.0) -> ColumnMap:
    return ColumnMap(column, "GAUGE", help_text, metric=name, null=null)


def table(
    columns: Sequence[ColumnMap],
    labels: Sequence[str] = (),
    required: Sequence[str] = (),
    only_when: Mapping[str, tuple[str, ...]] | None = None,
    label_null: str = "unknown",
) -> MetricMap:
    """A collector's map: ``labels`` columns (NULL is ``label_null``), then ``columns``."""
    mapped = {name: ColumnMap(name, "LABEL") for name in labels}
    mapped.update({col.name: col for col in columns})
    return MetricMap("", mapped, server_labels=False, unmapped=False, label_null=label_null,
                     required=tuple(required), only_when=dict(only_when or {}))


def text_array(values: Sequence[str]) -> str:
    """A ``text[]`` literal for a statement parameter."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


class TableCollector(QueryCollector):
    """A collector built from its ``CollectorConfig``."""

    def __init__(self, config: CollectorConfig) -> None:
        super().__init__(config.logger)
        self.config = config


def spec(cls: type[TableCollector], enabled_by_default: bool, help: str = "") -> CollectorSpec[CollectorConfig]:
    """The collector's row of the table that generates ``--[no-]collector.NAME``.

    A postgres collector's ``collect`` takes the results of the statements it planned
    (``engine.Collector``), not nothing as the node exporter's do: the factory is typed loosely.
    """
    return CollectorSpec(cls.name, cast(Any, cls), enabled_by_default, help)
