"""Structured logging on stderr in go-kit's logfmt or JSON, as the Go exporters log.

Context travels in ``extra``: ``logger.error("collector failed", extra={"collector": "cpu"})``
gives ``ts=... level=error msg="collector failed" collector=cpu``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error",
                logging.CRITICAL: "error"}
# attributes every LogRecord has; anything else came in through ``extra``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> list[tuple[str, object]]:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
    fields: list[tuple[str, object]] = [
        ("ts", ts),
        ("caller", f"{record.module}.py:{record.lineno}"),
        ("level", _LEVEL_NAMES.get(record.levelno, "info")),
        ("msg", record.getMessage()),
    ]
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            fields.append((key, value))
    if record.exc_info and record.exc_info[1] is not None:
        fields.append(("err", f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"))
    return fields


def _logfmt_value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\\\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    """``key=value`` pairs, values quoted when they need it."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record))


class JSONFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({k: v if isinstance(v, (int, float, bool)) else str(v) for k, v in _fields(record)})


def setup_logging(name: str, level: str = "info", fmt: str = "logfmt", stream: IO[str] | None = None) -> logging.Logger:
    """Configure and return the logger ``exporters.<name>`` (not the root logger)."""
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (want one of {', '.join(LEVELS)})")
    if fmt not in ("logfmt", "json"):
        raise ValueError(f"unknown log format {fmt!r} (want logfmt or json)")
    logger = logging.getLogger(f"exporters.{name}")
    logger.handlers.clear()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogfmtFormatter() if fmt == "logfmt" else JSONFormatter())
    logger.addHandler(handler)
    logger.setLevel(LEVELS[level])
    logger.propagate = False
    return logger
