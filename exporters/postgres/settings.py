"""``pg_settings_*``: every bool, integer and real server parameter as a gauge.

Units are normalised to seconds and bytes (``pg_settings_shared_buffers_bytes``); -1 is
kept as is because PostgreSQL uses it for "disabled".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from exporters.core.metrics import Metric, exact_gauge
from exporters.postgres.connection import Result, Statement
from exporters.postgres.engine import QueryFailed, Server

# The scrape sets statement_timeout and lock_timeout for its own session: their
# reset_val is the server's (and role's, and database's) value, which upstream shows.
QUERY = (
    "SELECT name, CASE WHEN name IN ('statement_timeout', 'lock_timeout') THEN reset_val ELSE setting END, "
    "COALESCE(unit, ''), vartype FROM pg_catalog.pg_settings "
    "WHERE vartype IN ('bool', 'integer', 'real') AND name != 'sync_commit_cancel_wait'"
)

# pg_settings unit -> (metric unit suffix, factor to that unit)
UNITS: dict[str, tuple[str, float]] = {
    "": ("", 1.0),
    "ms": ("seconds", 1e-3), "s": ("seconds", 1.0), "min": ("seconds", 60.0),
    "h": ("seconds", 3600.0), "d": ("seconds", 86400.0),
    "B": ("bytes", 1.0), "kB": ("bytes", 2.0**10), "MB": ("bytes", 2.0**20),
    "GB": ("bytes", 2.0**30), "TB": ("bytes", 2.0**40),
    "1kB": ("bytes", 2.0**10), "2kB": ("bytes", 2.0**11), "4kB": ("bytes", 2.0**12),
    "8kB": ("bytes", 2.0**13), "16kB": ("bytes", 2.0**14), "32kB": ("bytes", 2.0**15),
    "64kB": ("bytes", 2.0**16), "16MB": ("bytes", 2.0**24), "32MB": ("bytes", 2.0**25),
    "64MB": ("bytes", 2.0**26),
}


class SettingError(ValueError):
    """A setting whose value or unit cannot be read."""


@dataclass(frozen=True)
class Setting:
    """One gauge from one pg_settings row."""

    name: str
    help: str
    value: float


@lru_cache(maxsize=4096)
def setting_shape(name: str, unit: str, vartype: str) -> tuple[str, str, float | None]:
    """(metric name, help text, unit factor; None for a bool) of a setting (pure, so
    remembered: the same few hundred settings come back every scrape)."""
    metric = "pg_settings_" + name.replace(".", "_")
    help_text = f"Server Parameter: {name}"
    if vartype == "bool":
        return metric, help_text, None
    if vartype not in ("integer", "real"):
        raise SettingError(f"setting {name}: unsupported vartype {vartype!r}")
    if unit not in UNITS:
        raise SettingError(f"setting {name}: unknown unit {unit!r}")
    suffix, factor = UNITS[unit]
    if suffix:
        metric += "_" + suffix
        help_text += f" [Units converted to {suffix}.]"
    return metric, help_text, factor


def parse_setting(name: str, setting: str, unit: str, vartype: str) -> Setting:
    """Turn one pg_settings row into a metric name, help text and value (pure)."""
    metric, help_text, factor = setting_shape(name, unit, vartype)
    if factor is None:
        return Setting(metric, help_text, 1.0 if setting == "on" else 0.0)
    try:
        value = float(setting)
    except ValueError:
        raise SettingError(f"setting {name}: value {setting!r} is not a number") from None
    # -1 means "disabled" and stays as is; unitless settings have the factor 1
    if value != -1:
        value *= factor
    return Setting(metric, help_text, value)


def settings_metrics(
    rows: Iterable[tuple[str, str, str, str]], const_labels: Mapping[str, str]
) -> tuple[list[Metric], list[str]]:
    """Families for the rows, and a message for each row that could not be read."""
    names = sorted(const_labels)
    values = tuple(const_labels[n] for n in names)
    out: list[Metric] = []
    errors: list[str] = []
    for name, setting, unit, vartype in rows:
        try:
            parsed = parse_setting(name, setting, unit, vartype)
        except SettingError as err:
            errors.append(str(err))
            continue
        fam = exact_gauge(parsed.name, parsed.help, names)
        fam.add_metric(values, parsed.value)
        out.append(fam)
    return out, errors


class SettingsCollector:
    """``pg_settings_*`` (upstream's pg_setting.go). Runs in the session's default access
    mode, so ``transaction_read_only`` is the server's, not the built-ins' read-only mode."""

    name = "pg_settings"

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def statements(self, server: Server) -> list[Statement]:
        return [Statement(QUERY, read_only=False)]

    def collect(self, results: Sequence[Result], server: Server) -> Iterable[Metric]:
        result = results[0]
        if not result.ok:
            raise QueryFailed(result.error)
        # every column of QUERY is text
        rows = cast(list[tuple[str, str, str, str]], result.rows)
        families, problems = settings_metrics(rows, server.labels)
        for problem in problems[:3]:
            self.logger.warning(problem, extra={"collector": self.name})
        return families
