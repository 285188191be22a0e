"""The scenarios, one module each, and what they share.

A scenario is a module in this package that defines ``SCENARIO = Scenario(...)``: its name
(``--scenarios NAME``), the function that yields its result rows, the exporter it needs, the
workload sizes it takes from the command line (each becomes a ``--NAME`` flag with a default,
a ``--full`` and a ``--quick`` value) and how the report lays its rows out. Adding a scenario
is adding one such module; ``python -m bench`` finds it (see bench/README.md).
"""

from __future__ import annotations

import importlib
import logging
import math
import pkgutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import services
from bench.harness import ConcurrencyResult, ExporterUnavailable, SideResult, compare, ratios
from bench.targets import DEFAULT_GO, Pair, go_binaries, make_pair, postgres_env, redis_args

log = logging.getLogger("bench")

EXPORTERS = ("node", "postgres", "redis")
LAYOUTS = ("side-by-side", "scale", "load", "serving")

Row = dict[str, Any]


def ints(text: str) -> list[int]:
    """``1,10,100`` -> [1, 10, 100]."""
    return [int(part) for part in text.split(",") if part.strip()]


def seconds(text: str) -> float:
    return float(text)


@dataclass(frozen=True)
class Size:
    """A workload size a scenario takes from ``--NAME``: a default, a ``--full`` and a ``--quick`` value."""

    default: str
    full: str
    quick: str
    parse: Callable[[str], Any] = ints
    help: str = ""


@dataclass
class Options:
    exporters: Sequence[str] = EXPORTERS
    scrapes: int = 30
    scale_scrapes: int = 10
    warmup: int = 2
    pg_dsn: str = "postgresql://root@127.0.0.1:5432/postgres?sslmode=disable"
    queries: str = "shipped"
    # Extra arguments for our exporter only, per kind (e.g. to switch off what the older Go binary lacks).
    ours_args: dict[str, list[str]] = field(default_factory=dict)
    check_keys: str = "key:1??"
    count_keys: str = "key:*"
    redis_server: str = "redis-server"
    # The Go columns: generations in order (the first present is the reference), and per kind a
    # binary of the user's own that goes first.
    go: Sequence[str] = DEFAULT_GO
    go_custom: dict[str, str] = field(default_factory=dict)
    # Every scenario's sizes by name, parsed (see Size).
    sizes: dict[str, Any] = field(default_factory=dict)
    start_timeout: float = 30.0
    scrape_timeout: float = 10.0
    log_dir: Path = field(default_factory=lambda: Path("."))

    def size(self, name: str) -> Any:
        return self.sizes[name]

    def pair(self, kind: str, args: Sequence[str] = (), env: dict[str, str] | None = None) -> Pair:
        """Ours (with ``--KIND-ours-args``) and the selected Go columns, same args and environment."""
        return make_pair(kind, args, env, self.ours_args.get(kind, ()), go_binaries(kind, self.go, self.go_custom))


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: Callable[[Options], Iterator[Row]]
    # The exporter it needs; it is left out when that exporter is not selected (None: each selected).
    exporter: str | None = None
    sizes: Mapping[str, Size] = field(default_factory=dict)
    # side-by-side: every figure of each exporter; scale: one line per size; load: throughput per size.
    layout: str = "scale"
    # Place in the report and in the default run; a scenario with default=False runs only when named.
    order: int = 50
    default: bool = True


def discover() -> dict[str, Scenario]:
    """Every module of this package that defines SCENARIO, in report order."""
    found: dict[str, Scenario] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        scenario = getattr(importlib.import_module(f"{__name__}.{module.name}"), "SCENARIO", None)
        if not isinstance(scenario, Scenario):
            continue
        if scenario.name in found:
            raise ValueError(f"two scenarios are named {scenario.name!r}")
        if scenario.layout not in LAYOUTS:
            raise ValueError(f"scenario {scenario.name}: layout {scenario.layout!r} is not one of {LAYOUTS}")
        found[scenario.name] = scenario
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def skipped(scenario: str, exporter: str, size: dict[str, Any], reason: str) -> Row:
    log.warning("%s/%s %s skipped: %s", scenario, exporter, size, reason)
    return {"scenario": scenario, "exporter": exporter, "size": size, "skipped": reason}


def guarded(scenario: str, exporter: str, size: dict[str, Any], run: Callable[[], Row]) -> Row:
    """``run()``, or a skipped row when an exporter or a service is unavailable."""
    try:
        return run()
    except ExporterUnavailable as err:
        return skipped(scenario, exporter, size, str(err))


def comparison_row(scenario: str, pair: Pair, size: dict[str, Any], sides: Sequence[SideResult],
                   extra: dict[str, Any] | None = None) -> Row:
    """A result row from ``compare(pair.launches)``: Go's reference column, ours, the ratio ours/Go,
    and the other Go columns with ours' ratio to each."""
    go, ours, *more = sides
    row: Row = {
        "scenario": scenario, "exporter": pair.kind, "size": size,
        "go": go.as_dict(), "ours": ours.as_dict(), "ratio": ratios(go, ours),
        "more_go": {side.column: side.as_dict() for side in more},
        "more_ratio": {side.column: ratios(side, ours) for side in more},
    }
    if extra:
        row["extra"] = extra
    return row


def compare_row(scenario: str, pair: Pair, size: dict[str, Any], opts: Options, scrapes: int,
                extra: dict[str, Any] | None = None) -> Row:
    """Scrape every column of ``pair`` in turn ``scrapes`` times: one result row."""
    log.info("%s/%s %s: %d scrapes each", scenario, pair.kind, size, scrapes)
    sides = compare(pair.launches, opts.log_dir, scrapes, opts.warmup, opts.start_timeout, opts.scrape_timeout)
    return comparison_row(scenario, pair, size, sides, extra)


def load_ratios(go: ConcurrencyResult, ours: ConcurrencyResult, figures: Sequence[str]) -> dict[str, float]:
    out = {}
    for name in figures:
        a, b = float(getattr(ours, name)), float(getattr(go, name))
        out[name] = a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan
    return out


@contextmanager
def environment(
    exporter: str, opts: Options, keys: int = 0, check_keys: str = "", count_keys: str = "",
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Arguments and environment for an exporter; redis gets a private server with ``keys`` keys."""
    if exporter == "postgres":
        services.check_postgres(opts.pg_dsn)
        yield [], postgres_env(opts.pg_dsn)
    elif exporter == "redis":
        with services.private_redis(keys, opts.redis_server) as addr:
            yield redis_args(addr, check_keys, count_keys), {}
    else:
        yield [], {}
