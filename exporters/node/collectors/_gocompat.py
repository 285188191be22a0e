"""Helpers that reproduce Go and prometheus/procfs behaviour the node collectors depend on.

node_exporter compiles its filter flags with Go's ``regexp`` (RE2, unanchored
``MatchString``), reads sysfs attributes with one 128-byte ``read(2)``, and parses many
sysfs integers with ``strconv.ParseInt(s, 0, 64)`` (base prefixes, ``0x1003`` flags).
Collectors use these helpers so that the same input gives the same samples.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric

from exporters.core.cli import ConfigError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


def compile_go_regex(pattern: str, flag: str) -> re.Pattern[str]:
    """Compile an RE2 pattern given on the command line, as Go's ``regexp.MustCompile``.

    Go's ``$`` (without ``(?m)``) matches only at the very end of the text, where
    Python's also matches before a final newline: translate it to ``\\Z``. ``\\z`` is
    RE2's spelling of Python's ``\\Z``.
    """
    translated = _translate_re2(pattern)
    try:
        return re.compile(translated)
    except re.error as err:
        raise ConfigError(f"{flag}: invalid regular expression {pattern!r}: {err}") from err


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


@dataclass(frozen=True)
class DeviceFilter:
    """node_exporter's ``deviceFilter``: an exclude and an include pattern, either optional."""

    ignore: re.Pattern[str] | None = None
    accept: re.Pattern[str] | None = None

    def ignored(self, name: str) -> bool:
        if self.ignore is not None and self.ignore.search(name):
            return True
        return self.accept is not None and not self.accept.search(name)


def device_filter(exclude: str, include: str, flag_prefix: str, exclusive: bool = True) -> DeviceFilter:
    """Build a filter from ``--<prefix>.device-exclude`` / ``-include`` values ("" = unset)."""
    if exclusive and exclude and include:
        raise ConfigError(f"{flag_prefix}: device-exclude & device-include are mutually exclusive")
    return DeviceFilter(
        ignore=compile_go_regex(exclude, f"{flag_prefix} exclude") if exclude else None,
        accept=compile_go_regex(include, f"{flag_prefix} include") if include else None,
    )


def add_bool_flag(parser: argparse.ArgumentParser, name: str, dest: str, default: bool, help: str) -> None:
    """A kingpin boolean flag: ``--NAME`` and ``--no-NAME``."""
    parser.add_argument(f"--{name}", dest=dest, action="store_true", default=default,
                        help=f"{help} (default: {'true' if default else 'false'})")
    parser.add_argument(f"--no-{name}", dest=dest, action="store_false", help=argparse.SUPPRESS)


def go_parse_int(text: str, base: int = 10, bits: int = 64) -> int:
    """``strconv.ParseInt(text, base, bits)``; base 0 infers 0x / 0o / 0b / leading-0 octal."""
    value = _go_parse(text, base, signed=True)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if not low <= value <= high:
        raise ValueError(f"value out of range: {text!r}")
    return value


def go_parse_uint(text: str, base: int = 10, bits: int = 64) -> int:
    """``strconv.ParseUint(text, base, bits)``."""
    if text.startswith(("+", "-")):
        raise ValueError(f"invalid syntax: {text!r}")
    value = _go_parse(text, base, signed=False)
    if not 0 <= value <= 2**bits - 1:
        raise ValueError(f"value out of range: {text!r}")
    return value


def _go_parse(text: str, base: int, signed: bool) -> int:
    if not text or not text.isascii() or text != text.strip():
        raise ValueError(f"invalid syntax: {text!r}")
    sign = 1
    body = text
    if signed and body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        raise ValueError(f"invalid syntax: {text!r}")
    if base == 0:
        lowered = body.lower()
        if lowered.startswith("0x"):
            base, body = 16, body[2:]
        elif lowered.startswith("0o"):
            base, body = 8, body[2:]
        elif lowered.startswith("0b"):
            base, body = 2, body[2:]
        elif body.startswith("0") and len(body) > 1:
            base, body = 8, body[1:]
        else:
            base = 10
        body = body.replace("_", "")
    if not body or not all(c.isalnum() for c in body):
        raise ValueError(f"invalid syntax: {text!r}")
    return sign * int(body, base)


def procfs_pint64(text: str) -> int:
    """procfs ``ValueParser.PInt64()``: base-0 ParseInt where a malformed value reads as 0."""
    try:
        return go_parse_int(text, 0)
    except ValueError:
        return 0


def sys_read_file(path: str) -> str:
    """procfs ``util.SysReadFile``: one read of at most 128 bytes, whitespace trimmed.

    A single ``read(2)`` because some sysfs drivers answer EAGAIN forever.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, 128)
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="surrogateescape").strip()


def to_valid_utf8(text: str) -> str:
    """Go's ``strings.ToValidUTF8(s, "\uFFFD")`` for text decoded with surrogateescape.

    Each run of invalid bytes becomes one replacement character.
    """
    data = text.encode("utf-8", errors="surrogateescape")
    out: list[str] = []
    in_invalid_run = False
    while data:
        try:
            out.append(data.decode("utf-8"))
            break
        except UnicodeDecodeError as err:
            if err.start:
                out.append(data[: err.start].decode("utf-8"))
                in_invalid_run = False
            if not in_invalid_run:
                out.append("\ufffd")
                in_invalid_run = True
            data = data[err.end:]
    return "".join(out)


def go_join(*parts: str) -> str:
    """Go's ``filepath.Join``: join, then clean (no ``//``, no ``./``, no trailing ``/``)."""
    joined = os.path.join(*[p for p in parts if p])
    return os.path.normpath(joined) if joined else ""


def regular_files(directory: str) -> list[str]:
    """Names of the regular files (not symlinks, not directories) in ``directory``, sorted."""
    with os.scandir(directory) as entries:
        return sorted(e.name for e in entries if e.is_file(follow_symlinks=False))


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def valid_metric_name(name: str) -> bool:
    """Prometheus' metric name rule; a name built from file contents may break it."""
    return _METRIC_NAME.fullmatch(name) is not None


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def without_invalid_utf8(metrics: Iterable[Metric], logger: logging.Logger, collector: str) -> Iterator[Metric]:
    """Drop samples whose label values hold bytes that are not UTF-8 (read with surrogateescape).

    client_golang refuses such a label value (node_exporter panics on it); dropping the one
    sample and logging it keeps the rest of the scrape.
    """
    for metric in metrics:
        kept = [s for s in metric.samples if all(_encodable(v) for v in s.labels.values())]
        if len(kept) != len(metric.samples):
            logger.warning("dropped samples with a label value that is not valid UTF-8",
                           extra={"collector": collector, "metric": metric.name})
            metric.samples = kept
        yield metric
