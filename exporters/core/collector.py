"""The collector interface and the table that describes an exporter's collectors."""

from __future__ import annotations

import argparse
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
class CollectorSpec(Generic[ContextT]):
    """One row of an exporter's collector table.

    ``factory`` builds the collector from the exporter's context (paths, options,
    connections). ``options`` is the collector's typed options dataclass
    (``exporters.core.options``), whose flags are generated; ``add_arguments`` is the older
    way to register ``--collector.NAME.option`` flags by hand. The ``--[no-]collector.NAME``
    switch is generated.
    """

    name: str
    factory: Callable[[ContextT], Collector]
    enabled_by_default: bool = True
    help: str = ""
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    options: type | None = None
