"""PostgreSQL values to sample values and label values, as postgres_exporter reads them.

postgres_exporter v0.15.0 reads rows through lib/pq: integers and floats arrive as numbers,
booleans as booleans, timestamps as ``time.Time`` and everything else (numeric, arrays,
intervals, text) as the server's text. The connection (``connection.py``) loads values the
same way, and this module converts them as upstream's ``dbToFloat64`` / ``dbToString`` do:

- a timestamp is whole epoch seconds (Go's ``Time.Unix()``), as a value and as a label;
- text is a number only when Go's ``strconv.ParseFloat`` takes it (``inf`` and ``NaN``
  included, surrounding blanks not);
- a float label is written as Go's ``%v`` writes it (``1e+06``), numeric and array labels
  as the server wrote them (``1.50``, ``{a,b}``);
- NULL is NaN as a value and empty as a label.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from exporters.core.exposition import format_value


class ConversionError(ValueError):
    """A value that has no numeric meaning (text that is not a number, an array...)."""


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _epoch(value: dt.datetime | dt.date) -> float:
    """Whole seconds since the epoch, rounded down (Go's ``Unix()``); naive means UTC."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - _EPOCH
    else:
        delta = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC) - _EPOCH
    return float(delta.days * 86400 + delta.seconds)


def _bool_float(value: bool) -> float:
    return 1.0 if value else 0.0


# Go's strconv.ParseFloat: decimal or special values, no blanks, no digit separators
_GO_FLOAT = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)


def parse_go_float(text: str) -> float:
    if not _GO_FLOAT.fullmatch(text):
        raise ConversionError(f"text {text[:40]!r} is not a number")
    return float(text)


def _str_float(value: str) -> float:
    return parse_go_float(value)


# the types the connection returns, by exact type: one dict lookup per value instead of a
# chain of isinstance checks (a 10,000-table scrape converts 300,000 values)
_FAST_FLOAT: dict[type, Callable[[Any], float]] = {
    int: float,
    float: float,
    bool: _bool_float,
    str: _str_float,
    dt.datetime: _epoch,
    dt.date: _epoch,
    Decimal: float,
}


def to_float(value: Any) -> float:
    """A sample value; raises ``ConversionError`` for what cannot be one."""
    fast = _FAST_FLOAT.get(type(value))
    if fast is not None:
        return fast(value)
    if value is None:
        return math.nan
    if isinstance(value, bytes):
        return parse_go_float(value.decode("utf-8", "replace"))
    raise ConversionError(f"cannot convert a {type(value).__name__} to a number")


def to_label(value: Any) -> str:
    """A label value."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.datetime, dt.date)):
        return str(int(_epoch(value)))
    if isinstance(value, float):
        return format_value(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def to_float_list(value: Any) -> list[float]:
    """An array of numbers (histogram bounds and counts): a list, or PostgreSQL's ``{1,2}``."""
    if isinstance(value, (list, tuple)):
        return [to_float(v) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        inner = value[1:-1].strip()
        if not inner:
            return []
        return [math.nan if item.strip() == "NULL" else parse_go_float(item.strip().strip('"'))
                for item in inner.split(",")]
    raise ConversionError(f"expected an array, got {type(value).__name__}")


_GO_DURATION_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration_ms(text: str) -> float:
    """Go's ``time.ParseDuration`` in (whole) milliseconds: ``1h2m3.5s``; "0" alone needs no unit."""
    rest = text
    sign = 1.0
    if rest[:1] in ("+", "-"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ConversionError(f"invalid duration {text[:40]!r}")
    total = 0.0
    pos = 0
    while pos < len(rest):
        match = _GO_DURATION_PART.match(rest, pos)
        if match is None:
            raise ConversionError(f"invalid duration {text[:40]!r}")
        total += float(match.group(1)) * _GO_DURATION_UNITS[match.group(2)]
        pos = match.end()
    # float64(d / time.Millisecond): integer division of nanoseconds
    return sign * float(math.trunc(round(total * 1e6) / 1e6))


_INTERVAL = re.compile(
    r"(?:(?P<days>[+-]?\d+) days? ?)?(?:(?P<sign>[+-])?(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?))?"
)


def interval_ms(text: str) -> float:
    """PostgreSQL's interval text (``IntervalStyle`` postgres) in milliseconds, days and
    time only: ``1 day 02:00:00``, ``-00:00:01.5``. Months and years have no fixed length."""
    match = _INTERVAL.fullmatch(text.strip())
    if match is None or not text.strip():
        raise ConversionError(f"invalid interval {text[:40]!r}")
    days = int(match.group("days") or 0)
    seconds = 0.0
    if match.group("h") is not None:
        seconds = int(match.group("h")) * 3600 + int(match.group("m")) * 60 + float(match.group("s"))
        if match.group("sign") == "-":
            seconds = -seconds
    return (days * 86400 + seconds) * 1000.0
