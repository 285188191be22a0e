"""``-check-key-groups``: key count and memory per group of keys, in every database.

A group is named by the captures of the first Lua pattern (``string.find``) a key
matches, ``unclassified`` when none does. The keyspace is walked with SCAN inside a
server-side script, one batch per call, so each call is short; the walk stops at the
scrape deadline, and a database whose walk did not finish is left out rather than
reported with partial numbers. Beyond ``-max-distinct-key-groups`` groups per database,
the groups using the least memory are summed into one ``overflow`` group.
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass

from exporters.redis.families import Families
from exporters.redis.keys import label_text
from exporters.redis.resp import Connection, Reply, ReplyError

# ARGV[1] cursor, ARGV[2] SCAN COUNT, ARGV[3..] Lua patterns -> {cursor, {{group, keys, bytes}...}}
KEY_GROUPS_SCRIPT = b"""
for p = 3, #ARGV do
  local ok, err = pcall(string.find, " ", ARGV[p])
  if not ok then error(err .. " " .. ARGV[p]) end
end
local scan = redis.call("SCAN", ARGV[1], "COUNT", ARGV[2])
local totals = {}
for _, key in ipairs(scan[2]) do
  local bytes = redis.pcall("MEMORY", "USAGE", key)
  if type(bytes) ~= "number" then bytes = 0 end
  local name = "unclassified"
  for p = 3, #ARGV do
    local found = {string.find(key, ARGV[p])}
    if found[1] ~= nil then
      name = table.concat({unpack(found, 3)}, "")
      break
    end
  end
  local t = totals[name]
  if t == nil then totals[name] = {1, bytes} else t[1] = t[1] + 1; t[2] = t[2] + bytes end
end
local out = {}
for name, t in pairs(totals) do out[#out + 1] = {name, t[1], t[2]} end
return {scan[1], out}
"""

OVERFLOW = "overflow"


@dataclass
class KeyGroup:
    name: str
    count: int = 0
    memory: int = 0


def parse_key_groups(text: str) -> list[str]:
    """The comma-separated (CSV, quotes allowed) Lua patterns, blanks dropped."""
    if not text.strip():
        return []
    try:
        row = next(csv.reader([text], skipinitialspace=True))
    except (csv.Error, StopIteration) as err:
        raise ValueError(f"failed to parse key groups as csv: {err}") from None
    return [p.strip() for p in row if p.strip()]


def top_groups(groups: dict[str, KeyGroup], limit: int) -> tuple[list[KeyGroup], KeyGroup | None]:
    """At most ``limit`` groups by memory (then fewer keys, then name) and the rest summed."""
    if len(groups) <= limit:
        return list(groups.values()), None
    ordered = sorted(groups.values(), key=lambda g: (-g.memory, g.count, g.name))
    rest = KeyGroup(OVERFLOW)
    for group in ordered[limit:]:
        rest.count += group.count
        rest.memory += group.memory
    return ordered[:limit], rest


def _int(value: Reply) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, bytes) and value.isdigit():
        return int(value)
    return 0


def walk_database(conn: Connection, patterns: list[str], batch: int, deadline: float | None,
                  margin: float = 0.1) -> dict[str, KeyGroup] | None:
    """The groups of the selected database; ``None`` when the deadline came first."""
    groups: dict[str, KeyGroup] = {}
    cursor: Reply = b"0"
    while True:
        if deadline is not None and deadline - time.monotonic() < margin:
            return None
        reply = conn.command("EVAL", KEY_GROUPS_SCRIPT, 0, cursor, max(1, batch), *patterns)
        if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
            raise ValueError("invalid response from the key groups script")
        for row in reply[1]:
            if not isinstance(row, list) or len(row) != 3:
                continue
            name = label_text(row[0]) if isinstance(row[0], bytes) else ""
            group = groups.setdefault(name, KeyGroup(name))
            group.count += _int(row[1])
            group.memory += _int(row[2])
        cursor = reply[0]
        if cursor in (b"0", 0):
            return groups


def key_group_metrics(conn: Connection, families: Families, patterns: list[str], databases: int,
                      batch: int, max_groups: int, deadline: float | None,
                      logger: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
    started = time.monotonic()
    for db in range(databases if patterns else 0):
        try:
            conn.command("SELECT", db)
            groups = walk_database(conn, patterns, batch, deadline)
        except (ReplyError, ValueError) as err:
            logger.error("key groups failed", extra={"db": db, "err": str(err)})
            continue
        if groups is None:
            logger.warning("key groups not finished before the scrape deadline", extra={"db": db})
            break
        label = f"db{db}"
        shown, rest = top_groups(groups, max(0, max_groups))
        for group in [*shown, *([rest] if rest else [])]:
            labels = {"db": label, "key_group": group.name}
            families.gauge("key_group_count", float(group.count), labels)
            families.gauge("key_group_memory_usage_bytes", float(group.memory), labels)
        families.gauge("number_of_distinct_key_groups", float(len(groups)), {"db": label})
    families.gauge("last_key_groups_scrape_duration_milliseconds", float(int((time.monotonic() - started) * 1000)))
