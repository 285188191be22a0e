"""Typed per-collector options: a frozen dataclass whose fields declare their flags.

A collector with options declares them once, next to the code that uses them::

    @dataclass(frozen=True)
    class FilesystemOptions:
        mount_timeout: float = option("--collector.filesystem.mount-timeout", 5.0,
                                      "How long to wait for a mount to respond.", parse=parse_duration)
        stat_workers: int = option("--collector.filesystem.stat-workers", 4, "Parallel statfs calls.")

    SPEC = CollectorSpec(name="filesystem", factory=build, options=FilesystemOptions)

    def build(context: NodeContext) -> Collector:
        options = context.options(FilesystemOptions)   # a FilesystemOptions, typed

The flags are generated from the fields (``add_options``); a ``bool`` field becomes a kingpin
switch (``--X``, ``--X=false``, ``--no-X``), a ``tuple`` field a repeatable flag (kingpin's
``Strings()``: each use adds a value). The instance is built once from the parsed
command line (``options_from_args``), so a collector never sees argparse.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from exporters.core.flags import add_bool_flag

T = TypeVar("T")
_KEY = "exporters.option"


@dataclass(frozen=True)
class OptionFlag:
    """How one dataclass field is spelled on the command line."""

    flag: str
    help: str
    parse: Callable[[str], Any] | None = None
    metavar: str | None = None
    aliases: tuple[str, ...] = ()
    hidden: bool = False
    env: str | None = None
    """kingpin's ``Envar``: this environment variable, when set and not empty, is the default."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace(".", "_").replace("-", "_")


def option(
    flag: str,
    default: T,
    help: str,
    *,
    parse: Callable[[str], T] | None = None,
    metavar: str | None = None,
    aliases: Sequence[str] = (),
    hidden: bool = False,
    env: str | None = None,
) -> T:
    """A dataclass field that is also the flag ``flag`` (``--collector.NAME.option``)."""
    meta = OptionFlag(flag, help, parse, metavar, tuple(aliases), hidden, env)
    result: T = dataclasses.field(default=default, metadata={_KEY: meta})
    return result


def _flags(cls: type[Any]) -> list[tuple[dataclasses.Field[Any], OptionFlag]]:
    return [(f, f.metadata[_KEY]) for f in dataclasses.fields(cls) if _KEY in f.metadata]


def add_options(container: argparse._ActionsContainer, cls: type[Any]) -> None:
    """Register the flags of every ``option`` field of ``cls``."""
    for field, meta in _flags(cls):
        add_option_flag(container, field.default, meta)


def add_option_flag(container: argparse._ActionsContainer, default: Any, meta: OptionFlag) -> None:
    """One ``option`` field's flag, given its default (also for tables that list fields without their class)."""
    text = argparse.SUPPRESS if meta.hidden else meta.help
    if isinstance(default, bool):
        add_bool_flag(container, meta.flag.lstrip("-"), text, default=default, env_name=meta.env, dest=meta.dest)
        return
    if isinstance(default, tuple):  # repeatable, as kingpin's Strings(): one value per use
        container.add_argument(meta.flag, *meta.aliases, dest=meta.dest, action="append", type=meta.parse or str,
                               default=None, metavar=meta.metavar, help=text)
        return
    parse: Callable[[str], Any] = meta.parse or (type(default) if default is not None else str)
    raw = os.environ.get(meta.env, "") if meta.env else ""
    container.add_argument(meta.flag, *meta.aliases, dest=meta.dest, type=parse,
                           default=parse(raw) if raw else default, metavar=meta.metavar, help=text)


def options_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """An instance of ``cls`` from the parsed command line (defaults where a flag is absent)."""
    values = {}
    for field, meta in _flags(cls):
        value = getattr(args, meta.dest, field.default)
        values[field.name] = tuple(value) if isinstance(value, list) else field.default if value is None else value
    return cls(**values)
