"""What the collectors of one scrape share: the options, the connection, INFO and the replies
of the scrape's two pipelines, fetched before any collector runs (see ``scrape.py``)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from exporters.core.metrics import Metric
from exporters.redis.families import Families
from exporters.redis.info import InfoLine
from exporters.redis.key_groups import parse_key_groups
from exporters.redis.keys import KeyBudget, KeyScan, parse_key_arg
from exporters.redis.resp import Address, Connection, Reply, ReplyLimits, TLSOptions

Command = tuple[object, ...]


@dataclass(frozen=True)
class ScrapeOptions:
    """Everything a scrape needs from the command line (no target-specific data)."""

    namespace: str = "redis"
    user: str = ""
    password: str = ""
    config_command: str = "CONFIG"
    check_keys: str = ""
    check_single_keys: str = ""
    check_streams: str = ""
    check_single_streams: str = ""
    count_keys: str = ""
    check_key_groups: str = ""
    max_distinct_key_groups: int = 100
    check_keys_batch_size: int = 1000
    max_checked_keys: int = 10000
    key_value_limit: int = 4096
    max_reply_bytes: int = 8 << 20
    max_scrape_bytes: int = 1 << 30
    lua_scripts: tuple[tuple[str, bytes], ...] = ()
    tls: TLSOptions = field(default_factory=TLSOptions)
    include_config_metrics: bool = False
    redact_config_metrics: bool = True
    include_system_metrics: bool = False
    export_key_values: bool = True
    set_client_name: bool = True
    is_cluster: bool = False
    is_tile38: bool = False
    export_client_list: bool = False
    export_client_port: bool = False
    ping_on_connect: bool = False
    connection_timeout: float = 15.0

    @property
    def limits(self) -> ReplyLimits:
        return ReplyLimits(self.max_reply_bytes, self.max_scrape_bytes)

    def validate(self) -> None:
        """Raise ``ValueError`` for key arguments upstream also refuses at start."""
        for flag, value in (
            ("check-keys", self.check_keys), ("check-single-keys", self.check_single_keys),
            ("check-streams", self.check_streams), ("check-single-streams", self.check_single_streams),
            ("count-keys", self.count_keys),
        ):
            try:
                parse_key_arg(value)
            except ValueError as err:
                raise ValueError(f"couldn't parse {flag}: {err}") from None
        parse_key_groups(self.check_key_groups)


class LogOnce:
    """Remembers which (target, topic) warnings were already logged: the most recent
    ``capacity`` of them, so that callers naming ever new targets cannot grow it without
    bound (a target pushed out may log its warning once more)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def first(self, target: str, topic: str) -> bool:
        key = (target, topic)
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True


class TargetLog(logging.LoggerAdapter[logging.Logger]):
    """Adds the target to every line, keeping the line's own ``extra`` (the standard adapter
    replaces it)."""

    def process(self, msg: object, kwargs: MutableMapping[str, Any]) -> tuple[object, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


class ScrapeCollector:
    """A collector of one scrape (see ``exporters.redis.collectors``): built from the scrape's
    context, it says whether it ``applies()`` to this target and these options, and which
    ``commands()`` it needs from the scrape's second pipeline."""

    def __init__(self, ctx: ScrapeContext) -> None:
        self.ctx = ctx

    def applies(self) -> bool:
        return True

    def commands(self) -> list[Command]:
        return []

    def scans(self) -> list[KeyScan]:
        """The SCANs this collector needs, run before any collector with all the others."""
        return []

    def collect(self) -> list[Metric]:
        raise NotImplementedError


class ScrapeError(Exception):
    """A failure that makes the whole scrape fail (``redis_up 0``), as upstream's scrape errors do."""


@dataclass
class ScrapeContext:
    """One scrape of one target, as its collectors see it.

    ``lines`` is INFO ALL (or INFO) parsed; ``replies`` maps each command of the second
    pipeline to its reply (a ``ReplyError`` when the server refused it). ``databases`` is
    the number of databases the keyspace and key-group collectors walk: ``databases`` from
    CONFIG, 1 in cluster mode, 16 when neither says.
    """

    options: ScrapeOptions
    conn: Connection
    address: Address
    user: str
    password: str
    where: str
    logger: logging.Logger
    once: LogOnce
    config: Reply
    lines: list[InfoLine]
    deadline: float | None = None
    databases: int = 0
    cluster: bool = False
    replies: dict[Command, Reply] = field(default_factory=dict)
    # set by the first collector whose failure fails the scrape
    error: str | None = None
    failed_metrics: list[Metric] = field(default_factory=list)
    limits: set[str] = field(default_factory=set)
    _budget: KeyBudget | None = None
    _sections: dict[str, list[InfoLine]] | None = None

    def families(self) -> Families:
        return Families(self.options.namespace)

    def section(self, name: str) -> list[InfoLine]:
        """The INFO lines of one section, in order."""
        if self._sections is None:
            self._sections = {}
            for line in self.lines:
                self._sections.setdefault(line.section, []).append(line)
        return self._sections.get(name, [])

    def log(self, level: int, message: str, **extra: object) -> None:
        self.logger.log(level, message, extra={"target": self.where, **extra})

    def warn_once(self, topic: str, message: str, err: str) -> None:
        """A warning the first time per target and topic, debug after (a managed service
        refusing CONFIG or LATENCY refuses it every scrape)."""
        if self.once.first(self.where, topic):
            self.log(logging.WARNING, message + " (logged once per target)", err=err)
        else:
            self.log(logging.DEBUG, message, err=err)

    def target_logger(self) -> TargetLog:
        return TargetLog(self.logger, {"target": self.where})

    def key_budget(self) -> KeyBudget:
        """The keys the checks of this scrape may still touch: one budget for keys and streams."""
        if self._budget is None:
            self._budget = KeyBudget(self.options.max_checked_keys, self.deadline)
        return self._budget

    def limit_reached(self, name: str) -> None:
        """Record that a limit (see ``scrape.LIMITS``) cut this scrape short."""
        self.limits.add(name)

    def fail(self, message: str, metrics: list[Metric] | None = None) -> None:
        """Fail the scrape (``redis_up 0``), keeping what the failing collector had collected."""
        if self.error is None:
            self.error = message
            self.failed_metrics = list(metrics or [])
