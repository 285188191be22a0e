"""Key checks: ``-check-keys``, ``-check-single-keys``, ``-check-streams``, ``-count-keys``.

Patterns are expanded with SCAN (never KEYS), bounded by a number of keys and by the
scrape deadline. A string's size is PFCOUNT only when the value really is a HyperLogLog
(its first bytes are ``HYLL``), else STRLEN, so the checks never add WRONGTYPE errors
to the server's own error statistics as upstream's "PFCOUNT first" does.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from exporters.redis.families import Families
from exporters.redis.info import parse_number
from exporters.redis.replies import reply_map
from exporters.redis.resp import Connection, Reply, ReplyError, as_text

# A key containing one of these is a SCAN MATCH pattern (redis.io/commands/scan).
GLOB_CHARS = re.compile(r"[?*\[\]^]+")

# TYPE -> the command that gives the size of a value of that type.
SIZE_COMMANDS: dict[str, str] = {
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "hash": "HLEN",
    "stream": "XLEN",
    "string": "STRLEN",
}

HLL_MAGIC = b"HYLL"

Log = logging.Logger | logging.LoggerAdapter[logging.Logger]


@dataclass(frozen=True)
class DbKey:
    db: str
    key: str


def parse_key_arg(text: str) -> list[DbKey]:
    """``db3=pattern*,key`` -> [(3, pattern*), (0, key)]; keys are URL-unescaped.

    Raises ``ValueError`` for an entry with two ``=`` or a database that is not a number.
    Empty entries are skipped.
    """
    keys: list[DbKey] = []
    if not text:
        return keys
    for entry in text.split(","):
        if entry == "":
            continue
        frags = entry.split("=")
        if len(frags) == 1:
            db, raw = "0", frags[0]
        elif len(frags) == 2:
            db, raw = frags[0].strip().replace("db", ""), frags[1]
        else:
            raise ValueError(f"invalid key list argument: {entry}")
        key = urllib.parse.unquote_plus(raw.strip())
        if db == "" or key == "":
            continue
        if not db.isdigit():
            raise ValueError(f'invalid database index for db "{db}"')
        keys.append(DbKey(str(int(db)), key))
    return keys


@dataclass
class KeyBudget:
    """How many keys the checks of one scrape may still touch, and until when."""

    limit: int
    deadline: float | None
    margin: float = 0.1
    used: int = 0
    exhausted: list[str] = field(default_factory=list)

    def time_left(self) -> bool:
        return self.deadline is None or self.deadline - time.monotonic() > self.margin

    def take(self, what: str) -> bool:
        if self.limit > 0 and self.used >= self.limit:
            self.exhausted.append(what)
            return False
        if not self.time_left():
            self.exhausted.append(what)
            return False
        self.used += 1
        return True


def scan_keys(conn: Connection, pattern: str, count: int, budget: KeyBudget) -> list[str]:
    """Keys matching ``pattern`` in the selected database, by SCAN, within the budget."""
    found: list[str] = []
    seen: set[str] = set()
    cursor = b"0"
    while True:
        if not budget.time_left():
            budget.exhausted.append(pattern)
            break
        reply = conn.command("SCAN", cursor, "MATCH", pattern, "COUNT", max(1, count))
        if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
            raise ValueError(f"invalid response from SCAN for pattern: {pattern}")
        for item in reply[1]:
            name = as_text(item)
            if name in seen:
                continue
            if budget.limit > 0 and len(found) >= budget.limit:
                budget.exhausted.append(pattern)
                return found
            seen.add(name)
            found.append(name)
        cursor = reply[0] if isinstance(reply[0], bytes) else str(reply[0]).encode()
        if cursor == b"0":
            break
    return found


def expand_patterns(conn: Connection, keys: list[DbKey], count: int, budget: KeyBudget) -> list[DbKey]:
    out: list[DbKey] = []
    for item in keys:
        if GLOB_CHARS.search(item.key):
            conn.command("SELECT", item.db)
            out.extend(DbKey(item.db, name) for name in scan_keys(conn, item.key, count, budget))
        else:
            out.append(item)
    return out


def key_size(conn: Connection, key: str) -> tuple[str, float] | None:
    """(type, size) of a key; ``None`` when it does not exist; raises for unknown types.

    The type of a HyperLogLog is reported as ``hyperloglog`` (TYPE says ``string``).
    """
    key_type = as_text(conn.command("TYPE", key))
    if key_type == "none":
        return None
    if key_type == "string":
        head = conn.command("GETRANGE", key, 0, len(HLL_MAGIC) - 1)
        if head == HLL_MAGIC:
            key_type, command = "hyperloglog", "PFCOUNT"
        else:
            command = "STRLEN"
    elif key_type in SIZE_COMMANDS:
        command = SIZE_COMMANDS[key_type]
    else:
        raise ValueError(f"unknown type: {key_type} for key: {key}")
    size = conn.command(command, key)
    return key_type, float(size) if isinstance(size, int) else 0.0


def check_keys(
    conn: Connection,
    families: Families,
    keys: list[DbKey],
    *,
    export_values: bool,
    budget: KeyBudget,
    logger: Log,
    cluster: bool = False,
    route: Callable[[str], Connection] | None = None,
) -> None:
    """``key_size`` (and ``key_value`` / ``key_value_as_string`` for strings) per key."""
    for item in keys:
        if not budget.take(item.key):
            break
        target = conn
        db = item.db
        if cluster:
            db = "0"
            if route is not None:
                target = route(item.key)
        else:
            try:
                conn.command("SELECT", db)
            except ReplyError as err:
                logger.error("couldn't select database", extra={"db": db, "err": err.message})
                continue
        labels = {"db": "db" + db, "key": item.key}
        try:
            info = key_size(target, item.key)
        except (ReplyError, ValueError) as err:
            logger.error("couldn't get key size", extra={"key": item.key, "err": str(err)})
            continue
        if info is None:
            families.gauge("key_size", 0.0, labels)
            continue
        key_type, size = info
        families.gauge("key_size", size, labels)
        if key_type == "string" and export_values:
            value = target.command("GET", item.key)
            if isinstance(value, bytes):
                try:
                    text = value.decode("utf-8")
                except UnicodeDecodeError:
                    continue  # not text: client_golang refuses such a label value too
                number = parse_number(text)
                if number is not None:
                    families.gauge("key_value", number, labels)
                else:
                    families.gauge("key_value_as_string", 1.0, {**labels, "val": text})


def count_keys(
    conn: Connection, families: Families, patterns: list[DbKey], count: int, budget: KeyBudget,
    logger: Log,
) -> None:
    """``keys_count{db,key}``: how many keys match each pattern (SCAN).

    Not capped by ``-check-keys-limit``: a capped count would be a wrong number, not a
    cheaper one. A count the scrape deadline interrupts is left out (and logged), never
    reported partial. Like upstream, keys SCAN returns twice are counted twice.
    """
    for item in patterns:
        try:
            conn.command("SELECT", item.db)
            total = count_matching(conn, item.key, count, budget)
        except (ReplyError, ValueError) as err:
            logger.error("couldn't count keys", extra={"key": item.key, "err": str(err)})
            continue
        if total is None:
            logger.warning("counting keys did not finish before the scrape deadline", extra={"key": item.key})
            continue
        families.gauge("keys_count", float(total), {"db": "db" + item.db, "key": item.key})


def count_matching(conn: Connection, pattern: str, count: int, budget: KeyBudget) -> int | None:
    """How many keys SCAN returns for ``pattern``; ``None`` if the deadline came first."""
    total = 0
    cursor = b"0"
    while True:
        if not budget.time_left():
            budget.exhausted.append(pattern)
            return None
        reply = conn.command("SCAN", cursor, "MATCH", pattern, "COUNT", max(1, count))
        if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
            raise ValueError(f"invalid response from SCAN for pattern: {pattern}")
        total += len(reply[1])
        cursor = reply[0] if isinstance(reply[0], bytes) else str(reply[0]).encode()
        if cursor == b"0":
            return total


def stream_id_ms(text: str) -> float:
    """The millisecond part of a stream ID (``1526569495631-0``), 0 when empty or invalid."""
    head = text.strip().split("-")[0]
    value = parse_number(head) if head else None
    return value if value is not None else 0.0


def _num(value: Reply) -> float:
    if isinstance(value, int):
        return float(value)
    if isinstance(value, bytes):
        number = parse_number(value.decode("ascii", "replace"))
        return number if number is not None else 0.0
    return 0.0


def _text(value: Reply) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _entry_id(value: Reply) -> str:
    """The ID of a ``first-entry`` / ``last-entry`` value ([id, [field, value...]])."""
    if isinstance(value, list) and len(value) >= 2 and isinstance(value[0], bytes):
        return value[0].decode("ascii", "replace")
    return ""


def check_streams(
    conn: Connection, families: Families, streams: list[DbKey], budget: KeyBudget, logger: Log,
) -> None:
    """Stream, group and consumer gauges from XINFO STREAM / GROUPS / CONSUMERS."""
    for item in streams:
        if not budget.take(item.key):
            break
        try:
            conn.command("SELECT", item.db)
            info = reply_map(conn.command("XINFO", "STREAM", item.key))
            groups_reply = conn.command("XINFO", "GROUPS", item.key)
            groups: list[tuple[dict[str, Reply], list[dict[str, Reply]]]] = []
            for group_reply in groups_reply if isinstance(groups_reply, list) else []:
                group = reply_map(group_reply)
                members = conn.command("XINFO", "CONSUMERS", item.key, _text(group.get("name")))
                groups.append((group, [reply_map(c) for c in members] if isinstance(members, list) else []))
        except ReplyError as err:
            logger.error("couldn't get stream info", extra={"stream": item.key, "err": err.message})
            continue
        labels = {"db": "db" + item.db, "stream": item.key}
        families.gauge("stream_length", _num(info.get("length")), labels)
        families.gauge("stream_radix_tree_keys", _num(info.get("radix-tree-keys")), labels)
        families.gauge("stream_radix_tree_nodes", _num(info.get("radix-tree-nodes")), labels)
        families.gauge("stream_last_generated_id", stream_id_ms(_text(info.get("last-generated-id"))), labels)
        families.gauge("stream_groups", _num(info.get("groups")), labels)
        families.gauge("stream_max_deleted_entry_id", stream_id_ms(_text(info.get("max-deleted-entry-id"))), labels)
        families.gauge("stream_first_entry_id", stream_id_ms(_entry_id(info.get("first-entry"))), labels)
        families.gauge("stream_last_entry_id", stream_id_ms(_entry_id(info.get("last-entry"))), labels)
        for group, consumers in groups:
            glabels = {**labels, "group": _text(group.get("name"))}
            families.gauge("stream_group_consumers", _num(group.get("consumers")), glabels)
            families.gauge("stream_group_messages_pending", _num(group.get("pending")), glabels)
            families.gauge("stream_group_last_delivered_id",
                           stream_id_ms(_text(group.get("last-delivered-id"))), glabels)
            families.gauge("stream_group_entries_read", _num(group.get("entries-read")), glabels)
            families.gauge("stream_group_lag", _num(group.get("lag")), glabels)
            for consumer in consumers:
                clabels = {**glabels, "consumer": _text(consumer.get("name"))}
                families.gauge("stream_group_consumer_messages_pending", _num(consumer.get("pending")), clabels)
                families.gauge("stream_group_consumer_idle_seconds", _num(consumer.get("idle")) / 1e3, clabels)
