"""Structured logging on stderr as each Go exporter writes it.

node_exporter and postgres_exporter log through go-kit (``--log.format`` logfmt or json):
``ts=... caller=... level=info msg=... key=value``, JSON objects with sorted keys.
redis_exporter logs through logrus (``-log-format`` txt or json):
``time="2024-01-02T15:04:05Z" level=info msg="..." key=value``, level ``warning``.

Context travels in ``extra``: ``logger.error("collector failed", extra={"collector": "cpu"})``
gives ``ts=... level=error msg="collector failed" collector=cpu``. ``extra={"_no_level": True}``
writes a line without a level, as go-kit does for a bare ``logger.Log``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error",
                logging.CRITICAL: "error"}
# attributes every LogRecord has; anything else came in through ``extra``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def _extra(record: logging.LogRecord) -> list[tuple[str, object]]:
    fields = [(key, value) for key, value in vars(record).items() if key not in _STANDARD and not key.startswith("_")]
    if record.exc_info and record.exc_info[1] is not None:
        fields.append(("err", f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"))
    return fields


def _fields(record: logging.LogRecord) -> list[tuple[str, object]]:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
    fields: list[tuple[str, object]] = [("ts", ts), ("caller", f"{record.module}.py:{record.lineno}")]
    if not getattr(record, "_no_level", False):
        fields.append(("level", _LEVEL_NAMES.get(record.levelno, "info")))
    if not getattr(record, "_no_msg", False):
        fields.append(("msg", record.getMessage()))
    return fields + _extra(record)


def version_info(upstream: str, upstream_version: str) -> str:
    """prometheus/common's ``version.Info()`` with our version, naming the upstream one we match."""
    from exporters import __version__

    return f"(version={__version__}, branch=exporters, revision={upstream}-{upstream_version})"


# uname's machine names as Go's GOARCH spells them
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x"}


def goarch() -> str:
    """This machine's architecture as Go's ``GOARCH`` names it (build info, version lines)."""
    import platform

    machine = platform.machine()
    return _GOARCH.get(machine, machine)


def build_context() -> str:
    """prometheus/common's ``version.BuildContext()``: the runtime stands where Go's version would."""
    import platform

    return f"(go=python{platform.python_version()}, platform={sys.platform}/{goarch()}, user=, date=)"


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
    """One JSON object per line, keys sorted as Go's encoding/json writes a map."""

    def format(self, record: logging.LogRecord) -> str:
        return _json(_fields(record))


def _json(fields: list[tuple[str, object]]) -> str:
    import json  # only with a JSON log format

    return json.dumps({k: v if isinstance(v, (int, float, bool)) else str(v) for k, v in fields}, sort_keys=True,
                      separators=(",", ":"))


_LOGRUS_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning", logging.ERROR: "error",
                  logging.CRITICAL: "fatal"}
_LOGRUS_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/@^+")


def _logrus_time(created: float) -> str:
    """RFC 3339 in local time, seconds only, as logrus's default timestamp."""
    local = time.localtime(created)
    offset = time.strftime("%z", local)
    zone = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + zone


def _logrus_fields(record: logging.LogRecord) -> list[tuple[str, object]]:
    return [("time", _logrus_time(record.created)), ("level", _LOGRUS_LEVELS.get(record.levelno, "info")),
            ("msg", record.getMessage()), *sorted(_extra(record), key=lambda kv: kv[0])]


def _logrus_value(value: object) -> str:
    text = str(value)
    if text and all(c in _LOGRUS_PLAIN for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogrusTextFormatter(logging.Formatter):
    """logrus's TextFormatter without a terminal: ``time="..." level=info msg="..." key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logrus_value(v)}" for k, v in _logrus_fields(record))


class LogrusJSONFormatter(logging.Formatter):
    """logrus's JSONFormatter: one object per line, keys sorted."""

    def format(self, record: logging.LogRecord) -> str:
        return _json(_logrus_fields(record))


def setup_logging(
    name: str, level: str = "info", fmt: str = "logfmt", stream: IO[str] | None = None, style: str = "go-kit"
) -> logging.Logger:
    """Configure and return the logger ``exporters.<name>`` (not the root logger).

    ``style`` is ``go-kit`` (node, postgres) or ``logrus`` (redis); ``fmt`` is logfmt/txt or json.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (want one of {', '.join(LEVELS)})")
    if fmt not in ("logfmt", "json", "txt"):
        raise ValueError(f"unknown log format {fmt!r} (want logfmt or json)")
    logger = logging.getLogger(f"exporters.{name}")
    logger.handlers.clear()
    handler = logging.StreamHandler(stream or sys.stderr)
    if style == "logrus":
        handler.setFormatter(LogrusJSONFormatter() if fmt == "json" else LogrusTextFormatter())
    else:
        handler.setFormatter(JSONFormatter() if fmt == "json" else LogfmtFormatter())
    logger.addHandler(handler)
    logger.setLevel(LEVELS[level])
    logger.propagate = False
    return logger
