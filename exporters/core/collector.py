"""The collector interface and the table that describes an exporter's collectors."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from exporters.core.metrics import Metric

ContextT = TypeVar("ContextT")


class Collector(Protocol):
    """Anything with ``collect()`` returning fresh metric families for one scrape."""

    def collect(self) -> Iterable[Metric]: ...


class NoDataError(Exception):
    """The collector's source does not exist on this host.

    Not a failure: node_exporter's ``ErrNoData``. The runner reports
    ``<ns>_scrape_collector_success 0`` and logs it at debug level only.
    """


@dataclass(frozen=True)
class FamilyDoc:
    """A family, or a pattern of families, for the metrics reference (docs/metrics.md).

    ``name`` is a family's full name, or a pattern whose ``<Placeholders>`` stand for the
    parts that come from data (``node_memory_<Field>_bytes``). A collector's declarations
    say where a family comes from (``source``), name the patterns, and describe the families
    no test fixture makes it emit; what is left empty (type, labels, help) is what the
    collector emits. ``examples``: list the names seen on the fixtures under a pattern.
    """

    name: str
    type: str = ""
    labels: tuple[str, ...] | None = None
    help: str = ""
    source: str = ""
    examples: bool = True


@dataclass(frozen=True)
class CollectorSpec(Generic[ContextT]):
    """One row of an exporter's collector table.

    ``factory`` builds the collector from the exporter's context (paths, options,
    connections). ``options`` is the collector's typed options dataclass
    (``exporters.core.options``), whose flags are generated, as is the
    ``--[no-]collector.NAME`` switch. ``portable`` builds the collector on systems without
    the sources ``factory`` reads (the node exporter's psutil collectors on macOS and FreeBSD).
    ``source`` (where the collector reads: a file, call or command) and ``families`` feed
    the metrics reference only.
    """

    name: str
    factory: Callable[[ContextT], Collector]
    enabled_by_default: bool = True
    help: str = ""
    options: type | None = None
    portable: Callable[[ContextT], Collector] | None = None
    source: str = ""
    families: tuple[FamilyDoc, ...] = ()
