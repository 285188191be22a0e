"""Small helpers shared by the storage collectors (diskstats, filesystem, md, bcache ...).

They reproduce the reading and number-parsing rules of the Go ``procfs`` library that
node_exporter uses, so that edge cases (a 128-byte sysfs read, hexadecimal counters,
Go's unanchored regexp match) come out the same.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import re

from exporters.core.cli import ConfigError

LOGGER = logging.getLogger("exporters.node")

# procfs' SysReadFile reads at most this many bytes (one read(2) call).
SYS_READ_LIMIT = 128

_UINT64_MAX = (1 << 64) - 1
_DECIMAL = re.compile(r"[0-9]+")


def sys_read_file(path: str) -> str:
    """One ``read(2)`` of at most 128 bytes, surrounding whitespace stripped.

    Some sysfs drivers return EAGAIN forever on a buffered read; a single raw read
    either answers or fails at once.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, SYS_READ_LIMIT)
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace").strip()


def read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def parse_uint(text: str, bits: int = 64) -> int:
    """``strconv.ParseUint(text, 10, bits)``: decimal digits only, no sign, no spaces."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"invalid unsigned integer {text!r}")
    value = int(text)
    if value > (1 << bits) - 1:
        raise ValueError(f"value out of range {text!r}")
    return value


def parse_uint_any_base(text: str) -> int:
    """``strconv.ParseUint(text, 0, 64)``: ``0x``/``0o``/``0b`` prefixes, leading ``0`` is octal."""
    lower = text.lower()
    try:
        if lower.startswith("0x"):
            value = int(lower[2:], 16)
        elif lower.startswith("0o"):
            value = int(lower[2:], 8)
        elif lower.startswith("0b"):
            value = int(lower[2:], 2)
        elif len(lower) > 1 and lower.startswith("0"):
            value = int(lower[1:], 8)
        elif _DECIMAL.fullmatch(lower):
            value = int(lower)
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"invalid unsigned integer {text!r}") from None
    if "-" in lower or "+" in lower or value > _UINT64_MAX:
        raise ValueError(f"invalid unsigned integer {text!r}")
    return value


def parse_uints(fields: list[str], bits: int = 64) -> list[int]:
    """procfs' ``util.ParseUint64s`` / ``ParseUint32s``."""
    return [parse_uint(f, bits) for f in fields]


def compile_flag_regex(flag: str, pattern: str) -> re.Pattern[str]:
    """A regexp from a command-line flag; a bad one stops the start with the flag's name."""
    try:
        # RE2's \d, \w and \s are ASCII-only
        return re.compile(pattern, re.ASCII)
    except re.error as err:
        raise ConfigError(f"{flag}: invalid regular expression {pattern!r}: {err}") from None


def go_match(pattern: re.Pattern[str], text: str) -> bool:
    """Go's ``Regexp.MatchString``: true when the pattern matches anywhere in ``text``."""
    return pattern.search(text) is not None


def list_dir(path: str) -> list[str]:
    """Directory entries sorted by name, as Go's ``os.ReadDir`` returns them."""
    return sorted(os.listdir(path))


def glob_sorted(pattern: str) -> list[str]:
    """Go's ``filepath.Glob``: matches in lexical order, errors ignored."""
    return sorted(glob.glob(pattern, include_hidden=True))


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)


def parse_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)`` for decimal input (no surrounding spaces, no ``_``)."""
    if not _GO_FLOAT.fullmatch(text):
        raise ValueError(f"invalid number {text!r}")
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise ValueError(f"value out of range {text!r}")
    return value
