"""Collector options with node_exporter's (kingpin and Go ``regexp``) semantics.

node_exporter compiles its filter flags with Go's ``regexp`` (RE2) and matches them
unanchored (``MatchString``).
"""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

from exporters.core.flags import ConfigError

LOGGER = logging.getLogger("exporters.node")


def compile_go_regex(pattern: str, flag: str) -> re.Pattern[str]:
    """Compile an RE2 pattern given on the command line, as Go's ``regexp.MustCompile``.

    Go's ``$`` (without ``(?m)``) matches only at the very end of the text, where
    Python's also matches before a final newline: translate it to ``\\Z``. ``\\z`` is
    RE2's spelling of Python's ``\\Z``. RE2's ``\\d``, ``\\w`` and ``\\s`` are ASCII-only.
    A bad pattern stops the start with the flag's name.
    """
    translated = _translate_re2(pattern)
    try:
        return re.compile(translated, re.ASCII)
    except re.error as err:
        raise ConfigError(f"{flag}: invalid regular expression {pattern!r}: {err}") from None


def _translate_re2(pattern: str) -> str:
    if "(?m" in pattern or "(?s" in pattern:
        return pattern.replace("\\z", "\\Z")
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\Z" if nxt == "z" and not in_class else char + nxt)
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            # A ']' right after '[' or '[^' is a literal member of the class.
            out.append(char)
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        elif char == "$":
            out.append("\\Z")
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


def go_match(pattern: re.Pattern[str], text: str) -> bool:
    """Go's ``Regexp.MatchString``: true when the pattern matches anywhere in ``text``."""
    return pattern.search(text) is not None


class DeviceFilter(NamedTuple):
    """node_exporter's ``deviceFilter``: an exclude and an include pattern, either optional."""

    ignore: re.Pattern[str] | None = None
    accept: re.Pattern[str] | None = None

    def ignored(self, name: str) -> bool:
        if self.ignore is not None and self.ignore.search(name):
            return True
        return self.accept is not None and not self.accept.search(name)


def device_filter(exclude: str, include: str, flag_prefix: str, exclusive: bool = True,
                  announce: str | None = None, noun: str = "device") -> DeviceFilter:
    """Build a filter from ``--<prefix>.<noun>-exclude`` / ``-include`` values ("" = unset).

    ``announce``: the collector name, for those (diskstats, netdev) that log the patterns
    they were given, as upstream does.
    """
    if exclusive and exclude and include:
        raise ConfigError(f"{flag_prefix}: {noun}-exclude & {noun}-include are mutually exclusive")
    if announce is not None and exclude:
        LOGGER.info(f"Parsed flag {flag_prefix}.{noun}-exclude", extra={"collector": announce, "flag": exclude})
    if announce is not None and include:
        LOGGER.info(f"Parsed Flag {flag_prefix}.{noun}-include", extra={"collector": announce, "flag": include})
    return DeviceFilter(
        ignore=compile_go_regex(exclude, f"{flag_prefix}.{noun}-exclude") if exclude else None,
        accept=compile_go_regex(include, f"{flag_prefix}.{noun}-include") if include else None,
    )


def with_deprecated_alias(value: str | None, old_value: str, flag: str, old_flag: str, default: str,
                          collector: str) -> str:
    """The value of a flag that has a deprecated alias (node_exporter 1.x keeps both).

    ``value`` is None when the flag was not given. Giving both is an error; the alias
    alone is used, with a warning.
    """
    if old_value:
        if value is not None:
            raise ConfigError(f"{old_flag} and {flag} are mutually exclusive")
        LOGGER.warning(f"{old_flag} is DEPRECATED and will be removed in 2.0.0, use {flag}",
                       extra={"collector": collector})
        return old_value
    return default if value is None else value

