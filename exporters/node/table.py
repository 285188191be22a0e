"""The node collector table read without importing the collectors.

Importing every module of ``exporters.node.collectors`` only to register their flags cost
the start-up most of its time and memory, for collectors that are mostly left off. The
generated ``exporters.node.collector_table`` (``python -m tests.node.collector_table
--write``, from the modules' ``SPEC``; tests/node/test_collector_table.py fails when it
drifts) lists each collector's name, module, default state, help and option flags. The
command line is built from it, and only the enabled collectors' modules are imported.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any, NamedTuple

from exporters.core.collector import CollectorSpec
from exporters.core.flags import add_collector_flags
from exporters.core.options import OptionFlag, add_option_flag
from exporters.node.context import NodeContext

PACKAGE = "exporters.node.collectors"


class CollectorRow(NamedTuple):
    """One collector, as ``CollectorSpec`` and its options dataclass declare it."""

    name: str
    module: str
    """The module in ``exporters.node.collectors`` that defines the collector's ``SPEC``."""
    enabled_by_default: bool
    help: str = ""
    options: tuple[tuple[Any, OptionFlag], ...] = ()
    """Each field of the options dataclass, in order: its default and its flag."""
    systems: tuple[str, ...] = ()
    """The module's ``SYSTEMS``: the ``sys.platform`` prefixes it is for (empty: every system)."""


def add_table_flags(parser: argparse.ArgumentParser, rows: Sequence[CollectorRow]) -> None:
    """The flags ``exporters.core.flags.add_collector_flags`` registers for the rows' specs, in the same order.

    ``build_parser()`` and ``build_parser(collector_specs())`` must be the same parser
    (tests/node/test_collector_table.py compares every action and the help pages).
    """
    add_collector_flags(parser, rows, _add_row_options)


def _add_row_options(parser: argparse.ArgumentParser, row: CollectorRow) -> None:
    if row.options:
        options = parser.add_argument_group(f"{row.name} collector")
        for default, meta in row.options:
            add_option_flag(options, default, meta)


def load_spec(row: CollectorRow) -> CollectorSpec[NodeContext]:
    """The row's ``SPEC``, its module imported now."""
    spec = importlib.import_module(f"{PACKAGE}.{row.module}").SPEC
    if not isinstance(spec, CollectorSpec) or spec.name != row.name:
        raise RuntimeError(f"{PACKAGE}.{row.module}.SPEC is not the {row.name} collector: "
                           "regenerate exporters/node/collector_table.py")
    return spec
