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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from exporters.redis.families import Families
from exporters.redis.info import parse_number
from exporters.redis.replies import reply_map
from exporters.redis.resp import Connection, Reply, ReplyError, as_text

# A key containing one of these is a SCAN MATCH pattern (redis.io/commands/scan).
GLOB_CHARS = re.compile(rb"[?*\[\]^]+")

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
    """A key name (or SCAN pattern) in a database: bytes, exactly as the server has it."""

    db: str
    key: bytes

    @property
    def label(self) -> str:
        return label_text(self.key)


def label_text(raw: bytes) -> str:
    """A key, stream, group or consumer name as a label value.

    Key names are binary-safe. A name that is UTF-8 is its text; bytes that are not UTF-8
    and NUL become ``\\xNN`` (upstream drops a series whose name is not UTF-8 and writes a
    raw NUL into the exposition). The name sent to the server is always the exact bytes.
    """
    text = raw.decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00") if "\x00" in text else text


def parse_key_arg(text: str) -> list[DbKey]:
    """``db3=pattern*,key`` -> [(3, pattern*), (0, key)]; keys are URL-unescaped to bytes
    (``%FF`` is the byte 0xFF, as Go's ``url.QueryUnescape`` gives it).

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
        key = urllib.parse.unquote_to_bytes(raw.strip().replace("+", " "))
        if db == "" or key == b"":
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
    exhausted: list[bytes] = field(default_factory=list)

    def time_left(self) -> bool:
        return self.deadline is None or self.deadline - time.monotonic() > self.margin

    def take(self, what: bytes) -> bool:
        if self.limit > 0 and self.used >= self.limit:
            self.exhausted.append(what)
            return False
        if not self.time_left():
            self.exhausted.append(what)
            return False
        self.used += 1
        return True


@dataclass
class KeyScan:
    """One pattern walked with SCAN in one database: the names it finds, or how many.

    ``collect`` keeps the distinct names (``-check-keys`` / ``-check-streams`` patterns, at
    most ``limit`` of them when it is above 0); otherwise only the number SCAN returns is
    kept (``-count-keys``: like upstream, a key SCAN returns twice counts twice).
    """

    db: str
    pattern: bytes
    count: int
    collect: bool
    limit: int = 0
    cursor: bytes = b"0"
    names: list[bytes] = field(default_factory=list)
    total: int = 0
    complete: bool = False  # the cursor came back to 0
    interrupted: bool = False  # the scrape deadline (or the limit) came first
    error: str = ""
    _seen: set[bytes] = field(default_factory=set)

    def command(self) -> tuple[object, ...]:
        return ("SCAN", self.cursor, "MATCH", self.pattern, "COUNT", max(1, self.count))

    def take(self, reply: Reply) -> bool:
        """Account one SCAN reply; ``True`` when the next batch should be asked for."""
        if isinstance(reply, ReplyError):
            self.error = reply.message
            return False
        if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
            self.error = f"invalid response from SCAN for pattern: {label_text(self.pattern)}"
            return False
        items = reply[1]
        if self.collect:
            names, seen, limit = self.names, self._seen, self.limit
            for name in items:
                if name in seen or not isinstance(name, bytes):
                    continue
                if limit > 0 and len(names) >= limit:
                    self.interrupted = True
                    return False
                seen.add(name)
                names.append(name)
        else:
            self.total += len(items)
        cursor = reply[0]
        self.cursor = cursor if isinstance(cursor, bytes) else str(cursor).encode()
        if self.cursor == b"0":
            self.complete = True
            return False
        return True


def run_scans(conn: Connection, scans: list[KeyScan], budget: KeyBudget) -> None:
    """Walk every scan to its end (or error, limit, deadline) over one connection.

    The scans of a database run side by side with one SCAN of each in flight: the next
    batch of one pattern is asked for before the reply of another is read, so the server
    works on one while this side reads the other, and two patterns over a large keyspace
    take little more than the server's own time. Each database is selected once.
    """
    by_db: dict[str, list[KeyScan]] = {}
    for scan in scans:
        by_db.setdefault(scan.db, []).append(scan)
    for db, group in by_db.items():
        selected = conn.pipeline([("SELECT", db)])[0]
        if isinstance(selected, ReplyError):
            for scan in group:
                scan.error = selected.message
            continue
        in_flight: deque[KeyScan] = deque()
        for scan in group:
            _ask(conn, scan, budget, in_flight)
        while in_flight:
            scan = in_flight.popleft()
            if scan.take(conn.receive()):
                _ask(conn, scan, budget, in_flight)
            elif scan.interrupted:
                budget.exhausted.append(scan.pattern)


def _ask(conn: Connection, scan: KeyScan, budget: KeyBudget, in_flight: deque[KeyScan]) -> None:
    if not budget.time_left():
        scan.interrupted = True
        budget.exhausted.append(scan.pattern)
        return
    conn.send([scan.command()])
    in_flight.append(scan)


def is_pattern(key: bytes) -> bool:
    """Whether a ``-check-keys`` entry is a SCAN MATCH pattern rather than a key name."""
    return GLOB_CHARS.search(key) is not None


def key_size(conn: Connection, key: bytes) -> tuple[str, float] | None:
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
        raise ValueError(f"unknown type: {key_type} for key: {label_text(key)}")
    size = conn.command(command, key)
    return key_type, float(size) if isinstance(size, int) else 0.0


# Keys checked per batch of pipelined commands: three round trips per batch, not five per key.
KEY_CHECK_BATCH = 100


def check_keys(
    conn: Connection,
    families: Families,
    keys: list[DbKey],
    *,
    export_values: bool,
    value_limit: int,
    budget: KeyBudget,
    logger: Log,
    cluster: bool = False,
    route: Callable[[bytes], Connection] | None = None,
) -> int:
    """``key_size`` (and ``key_value`` / ``key_value_as_string`` for strings) per key.

    A string's value is read only up to ``value_limit`` bytes (GETRANGE, beside its STRLEN);
    a longer one gets its ``key_size`` but no value series. Returns how many were skipped.
    """
    values = value_limit if export_values else 0
    if cluster:
        return _check_keys_in_cluster(families, keys, values, budget, logger, conn, route)
    skipped = 0
    batch: list[DbKey] = []
    for item in keys:
        if not budget.take(item.key):
            break
        batch.append(item)
        if len(batch) == KEY_CHECK_BATCH:
            skipped += _check_key_batch(conn, families, batch, values, logger)
            batch = []
    if batch:
        skipped += _check_key_batch(conn, families, batch, values, logger)
    return skipped


def _per_key(
    conn: Connection, items: list[DbKey], commands: list[list[tuple[object, ...]]],
) -> list[tuple[ReplyError | None, list[Reply]]]:
    """One pipeline of each key's commands, with a SELECT wherever the database changes:
    per key, the SELECT's error (its replies are then that error too) and its replies."""
    sent: list[tuple[object, ...]] = []
    spans: list[tuple[int, int, int]] = []  # (its SELECT, first and end of its own replies)
    db = None
    select = -1
    for item, own in zip(items, commands, strict=True):
        if own and item.db != db:
            sent.append(("SELECT", item.db))
            db = item.db
            select = len(sent) - 1
        spans.append((select, len(sent), len(sent) + len(own)))
        sent.extend(own)
    replies = conn.pipeline(sent) if sent else []
    out: list[tuple[ReplyError | None, list[Reply]]] = []
    for select, start, end in spans:
        selected = replies[select] if start < end else None
        if isinstance(selected, ReplyError):
            out.append((selected, [selected] * (end - start)))
        else:
            out.append((None, replies[start:end]))
    return out


def _check_key_batch(
    conn: Connection, families: Families, items: list[DbKey], value_limit: int, logger: Log,
) -> int:
    """TYPE of each key; then GETRANGE of the strings (a HyperLogLog starts with ``HYLL``)
    and the size of the others; then the size and value of the strings."""
    first = _per_key(conn, items, [[("TYPE", item.key)] for item in items])
    types: list[str | None] = []
    for item, (selected, (type_reply,)) in zip(items, first, strict=True):
        name = "" if isinstance(type_reply, ReplyError) else as_text(type_reply)
        if selected is not None:
            logger.error("couldn't select database", extra={"db": item.db, "err": selected.message})
            types.append(None)
        elif isinstance(type_reply, ReplyError):
            logger.error("couldn't get key size", extra={"key": item.label, "err": type_reply.message})
            types.append(None)
        elif name != "none" and name not in SIZE_COMMANDS:
            logger.error("couldn't get key size",
                         extra={"key": item.label, "err": f"unknown type: {name} for key: {item.label}"})
            types.append(None)
        else:
            types.append(name)
    second = _per_key(conn, items, [
        [("GETRANGE", item.key, 0, len(HLL_MAGIC) - 1)] if key_type == "string"
        else [(SIZE_COMMANDS[key_type], item.key)] if key_type in SIZE_COMMANDS else []
        for item, key_type in zip(items, types, strict=True)
    ])
    hll = [
        key_type == "string" and replies[0] == HLL_MAGIC
        for key_type, (_, replies) in zip(types, second, strict=True)
    ]
    third = _per_key(conn, items, [
        [("PFCOUNT", item.key)] if is_hll
        else [("STRLEN", item.key), *([("GETRANGE", item.key, 0, value_limit - 1)] if value_limit > 0 else [])]
        if key_type == "string"
        else []
        for item, key_type, is_hll in zip(items, types, hll, strict=True)
    ])
    skipped = 0
    for item, key_type, is_hll, (_, replies2), (_, replies3) in zip(items, types, hll, second, third, strict=True):
        if key_type is None:
            continue
        labels = {"db": "db" + item.db, "key": item.label}
        if key_type == "none":
            families.gauge("key_size", 0.0, labels)
            continue
        size = replies3[0] if key_type == "string" else replies2[0]
        if isinstance(size, ReplyError):
            logger.error("couldn't get key size", extra={"key": item.label, "err": size.message})
            continue
        families.gauge("key_size", float(size) if isinstance(size, int) else 0.0, labels)
        if key_type == "string" and not is_hll and value_limit > 0:
            if isinstance(size, int) and size > value_limit:
                skipped += 1
            else:
                _key_value(families, labels, replies3[1])
    return skipped


def _key_value(families: Families, labels: dict[str, str], value: Reply) -> None:
    if not isinstance(value, bytes):
        return
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return  # not text: client_golang refuses such a label value too
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    number = parse_number(text)
    if number is not None:
        families.gauge("key_value", number, labels)
    else:
        families.gauge("key_value_as_string", 1.0, {**labels, "val": text})


def _check_keys_in_cluster(
    families: Families, keys: list[DbKey], value_limit: int, budget: KeyBudget, logger: Log,
    conn: Connection, route: Callable[[bytes], Connection] | None,
) -> int:
    """Key by key, each on the node that holds it (a cluster has database 0 only)."""
    skipped = 0
    for item in keys:
        if not budget.take(item.key):
            break
        target = route(item.key) if route is not None else conn
        labels = {"db": "db0", "key": item.label}
        try:
            info = key_size(target, item.key)
        except (ReplyError, ValueError) as err:
            logger.error("couldn't get key size", extra={"key": item.label, "err": str(err)})
            continue
        if info is None:
            families.gauge("key_size", 0.0, labels)
            continue
        key_type, size = info
        families.gauge("key_size", size, labels)
        if key_type == "string" and value_limit > 0:
            if size > value_limit:
                skipped += 1
            else:
                _key_value(families, labels, target.command("GETRANGE", item.key, 0, value_limit - 1))
    return skipped


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


def _name(value: Reply) -> str:
    return label_text(value) if isinstance(value, bytes) else ""


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
                name = group.get("name")
                if not isinstance(name, bytes):
                    continue
                members = conn.command("XINFO", "CONSUMERS", item.key, name)
                groups.append((group, [reply_map(c) for c in members] if isinstance(members, list) else []))
        except ReplyError as err:
            logger.error("couldn't get stream info", extra={"stream": item.label, "err": err.message})
            continue
        labels = {"db": "db" + item.db, "stream": item.label}
        families.gauge("stream_length", _num(info.get("length")), labels)
        families.gauge("stream_radix_tree_keys", _num(info.get("radix-tree-keys")), labels)
        families.gauge("stream_radix_tree_nodes", _num(info.get("radix-tree-nodes")), labels)
        families.gauge("stream_last_generated_id", stream_id_ms(_text(info.get("last-generated-id"))), labels)
        families.gauge("stream_groups", _num(info.get("groups")), labels)
        families.gauge("stream_max_deleted_entry_id", stream_id_ms(_text(info.get("max-deleted-entry-id"))), labels)
        families.gauge("stream_first_entry_id", stream_id_ms(_entry_id(info.get("first-entry"))), labels)
        families.gauge("stream_last_entry_id", stream_id_ms(_entry_id(info.get("last-entry"))), labels)
        for group, consumers in groups:
            glabels = {**labels, "group": _name(group.get("name"))}
            families.gauge("stream_group_consumers", _num(group.get("consumers")), glabels)
            families.gauge("stream_group_messages_pending", _num(group.get("pending")), glabels)
            families.gauge("stream_group_last_delivered_id",
                           stream_id_ms(_text(group.get("last-delivered-id"))), glabels)
            families.gauge("stream_group_entries_read", _num(group.get("entries-read")), glabels)
            families.gauge("stream_group_lag", _num(group.get("lag")), glabels)
            for consumer in consumers:
                clabels = {**glabels, "consumer": _name(consumer.get("name"))}
                families.gauge("stream_group_consumer_messages_pending", _num(consumer.get("pending")), clabels)
                families.gauge("stream_group_consumer_idle_seconds", _num(consumer.get("idle")) / 1e3, clabels)
