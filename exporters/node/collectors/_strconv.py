"""Go's ``strconv`` number parsing, as node_exporter and prometheus/procfs apply it to host files.

The same input must be accepted or refused as Go does: a value Go refuses costs the
sample (or the file) upstream, and so it does here.
"""

from __future__ import annotations

import math
import re

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

_DECIMAL_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)


def go_parse_int(text: str, base: int = 10, bits: int = 64) -> int:
    """``strconv.ParseInt(text, base, bits)``; base 0 infers 0x / 0o / 0b / leading-0 octal."""
    value = _go_parse(text, base, signed=True)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if not low <= value <= high:
        raise ValueError(f"value out of range: {text!r}")
    return value


def go_parse_uint(text: str, base: int = 10, bits: int = 64) -> int:
    """``strconv.ParseUint(text, base, bits)``."""
    if base == 10 and text.isascii() and text.isdigit():
        value = int(text)  # the common case, kept cheap: /proc/stat alone has hundreds
    elif text.startswith(("+", "-")):
        raise ValueError(f"invalid syntax: {text!r}")
    else:
        value = _go_parse(text, base, signed=False)
    if not 0 <= value <= 2**bits - 1:
        raise ValueError(f"value out of range: {text!r}")
    return value


def _go_parse(text: str, base: int, signed: bool) -> int:
    if text.isdigit() and text.isascii() and (base == 10 or (base == 0 and (text[0] != "0" or text == "0"))):
        return int(text)  # the common case: plain decimal digits
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


def go_parse_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``: decimal, ``inf``/``nan`` and hexadecimal (``0x1p-2``) forms.

    No surrounding blanks, no ``_`` separators; a finite value too large for a float64
    is an error (Go returns ``ErrRange``).
    """
    if text.isascii() and text.isdigit() and len(text) < 300:
        return float(text)  # the common case: a /proc counter
    if not text or text != text.strip() or "_" in text:
        raise ValueError(f"invalid float {text!r}")
    body = text[1:] if text[0] in "+-" else text
    if body[:2].lower() == "0x":
        if "p" not in body.lower():
            raise ValueError(f"invalid float {text!r}: hexadecimal mantissa requires a 'p' exponent")
        value = float.fromhex(body)
        value = -value if text.startswith("-") else value
    elif _DECIMAL_FLOAT.fullmatch(text):
        value = float(text)
    else:
        raise ValueError(f"invalid float {text!r}")
    if math.isinf(value) and "inf" not in text.lower():
        raise ValueError(f"value out of range {text!r}")
    return value


def parse_uints(fields: list[str], bits: int = 64) -> list[int]:
    """procfs' ``util.ParseUint64s`` / ``ParseUint32s``: every field base 10."""
    return [go_parse_uint(f, 10, bits) for f in fields]


def procfs_pint64(text: str) -> int:
    """procfs ``ValueParser.PInt64()``: base-0 ParseInt where a malformed value reads as 0."""
    try:
        return go_parse_int(text, 0)
    except ValueError:
        return 0


def parse_cpu_range(text: str) -> list[int]:
    """A sysfs CPU list (``0-3,8,10-11``) as procfs's ``parseCPURange`` reads it."""
    cpus: list[int] = []
    for item in text.rstrip("\n").split(","):
        if item == "":
            continue
        if "-" in item:
            bounds = item.split("-")
            if len(bounds) != 2:
                raise ValueError(f"invalid cpu range: {item}")
            start, end = _atoi(bounds[0]), _atoi(bounds[1])
            cpus.extend(i & 0xFFFF for i in range(start, end + 1))
            continue
        cpus.append(_atoi(item) & 0xFFFF)
    return cpus


def _atoi(text: str) -> int:
    """Go's ``strconv.Atoi``: optional sign, decimal digits only."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f"invalid syntax: {text!r}")
    return int(text)
