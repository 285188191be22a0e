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
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from exporters.core.collector import CollectorSpec
from exporters.core.flags import add_bool_flag, add_collector_flags
from exporters.core.options import OptionFlag
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
            _add_option(options, default, meta)


def _add_option(container: argparse._ActionsContainer, default: Any, meta: OptionFlag) -> None:
    """One field's flag, as ``exporters.core.options.add_options`` registers it."""
    text = argparse.SUPPRESS if meta.hidden else meta.help
    if isinstance(default, bool):
        add_bool_flag(container, meta.flag.lstrip("-"), text, default=default, env_name=meta.env, dest=meta.dest)
        return
    if isinstance(default, tuple):
        container.add_argument(meta.flag, *meta.aliases, dest=meta.dest, action="append", type=meta.parse or str,
                               default=None, metavar=meta.metavar, help=text)
        return
    parse: Callable[[str], Any] = meta.parse or (type(default) if default is not None else str)
    raw = os.environ.get(meta.env, "") if meta.env else ""
    container.add_argument(meta.flag, *meta.aliases, dest=meta.dest, type=parse,
                           default=parse(raw) if raw else default, metavar=meta.metavar, help=text)


def enabled_rows(args: argparse.Namespace, rows: Sequence[CollectorRow]) -> list[CollectorRow]:
    """The rows switched on by flags, defaults and ``--collector.disable-defaults``
    (``exporters.core.flags.enabled_collectors`` for rows)."""
    chosen = []
    for row in rows:
        flag = getattr(args, "collector_enable_" + row.name.replace(".", "_"))
        if flag is None:
            flag = row.enabled_by_default and not args.collector_disable_defaults
        if flag:
            chosen.append(row)
    return chosen


def load_spec(row: CollectorRow) -> CollectorSpec[NodeContext]:
    """The row's ``SPEC``, its module imported now."""
    spec = importlib.import_module(f"{PACKAGE}.{row.module}").SPEC
    if not isinstance(spec, CollectorSpec) or spec.name != row.name:
        raise RuntimeError(f"{PACKAGE}.{row.module}.SPEC is not the {row.name} collector: "
                           "regenerate exporters/node/collector_table.py")
    return spec
