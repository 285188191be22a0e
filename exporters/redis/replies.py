"""Pure parsers for command replies other than INFO: LATENCY, SLOWLOG, CLIENT LIST.

Each takes the decoded RESP reply (or text) and returns plain values; a malformed
entry is skipped, never raised.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from exporters.redis.resp import Reply, as_text


def reply_map(reply: Reply) -> dict[str, Reply]:
    """A flat [key, value, ...] reply as a dict with text keys."""
    out: dict[str, Reply] = {}
    if not isinstance(reply, list):
        return out
    for i in range(0, len(reply) - 1, 2):
        key = reply[i]
        if isinstance(key, bytes):
            out[key.decode("utf-8", "replace")] = reply[i + 1]
    return out


@dataclass(frozen=True)
class LatencyEvent:
    name: str
    last: float  # unix time of the latest spike
    duration_seconds: float  # of the latest spike


def parse_latency_latest(reply: Reply) -> list[LatencyEvent]:
    """LATENCY LATEST: [[event, last-unix-time, latest-ms, max-ms], ...]."""
    events: list[LatencyEvent] = []
    for entry in reply if isinstance(reply, list) else []:
        if not isinstance(entry, list) or len(entry) < 4 or not isinstance(entry[0], bytes):
            continue
        last, latest = entry[1], entry[2]
        if not isinstance(last, int) or not isinstance(latest, int):
            continue
        events.append(LatencyEvent(as_text(entry[0]), float(last), latest / 1e3))
    return events


@dataclass(frozen=True)
class CommandHistogram:
    cmd: str
    calls: float
    buckets: dict[float, float]  # upper bound in usec -> cumulative count


def parse_latency_histogram(reply: Reply) -> list[CommandHistogram]:
    """LATENCY HISTOGRAM (Redis >= 7.0): [cmd, [calls, N, histogram_usec, [bound, count, ...]], ...]."""
    out: list[CommandHistogram] = []
    if not isinstance(reply, list):
        return out
    for i in range(0, len(reply) - 1, 2):
        if not isinstance(reply[i], bytes):
            continue
        details = reply_map(reply[i + 1])
        calls, raw = details.get("calls"), details.get("histogram_usec")
        if not isinstance(calls, int) or not isinstance(raw, list):
            continue
        buckets: dict[float, float] = {}
        for j in range(0, len(raw) - 1, 2):
            bound, count = raw[j], raw[j + 1]
            if isinstance(bound, int) and isinstance(count, int):
                buckets[float(bound)] = float(count)
        out.append(CommandHistogram(as_text(reply[i]), float(calls), buckets))
    return out


_USEC = re.compile(r"(?:^|,)usec=([0-9]+)")
_CMD_NAME = re.compile(r"[a-zA-Z0-9|]+")


class CommandUsec:
    """The commandstats ``usec`` of every command, for the histograms' sums: ``usec`` of every
    entry whose name starts with the histogram's command, as redis_exporter computes it
    (``get`` also counts ``getrange``...). Parsed once per scrape, summed by prefix with a
    bisection instead of a pass over every entry per command."""

    def __init__(self, commandstats: Mapping[str, str]) -> None:
        entries = []
        for name, value in commandstats.items():
            if not _CMD_NAME.fullmatch(name):
                continue
            match = _USEC.search(value)
            entries.append((name, int(match.group(1)) if match else 0))
        entries.sort()
        self.names = [name for name, _ in entries]
        self.sums = [0, *itertools.accumulate(usec for _, usec in entries)]

    def total(self, cmd: str) -> float:
        first = bisect.bisect_left(self.names, cmd)
        end = bisect.bisect_left(self.names, cmd + "\U0010ffff", first)
        return float(self.sums[end] - self.sums[first])


def total_usec(commandstats: Mapping[str, str], cmd: str) -> float:
    """``CommandUsec(commandstats).total(cmd)``, for one command."""
    return CommandUsec(commandstats).total(cmd)


def parse_slowlog_last(reply: Reply) -> tuple[float, float]:
    """SLOWLOG GET 1: (id, duration in seconds) of the latest entry, (0, 0) when empty."""
    if isinstance(reply, list) and reply and isinstance(reply[0], list) and reply[0]:
        entry = reply[0]
        last_id = float(entry[0]) if isinstance(entry[0], int) else 0.0
        duration = entry[2] / 1e6 if len(entry) > 2 and isinstance(entry[2], int) else 0.0
        return last_id, duration
    return 0.0, 0.0


_CLIENT_LINE = re.compile(r"^id=\d+ addr=\S+")


def parse_client_line(line: str, now: int) -> dict[str, str] | None:
    """One CLIENT LIST line as the labels upstream exports; ``None`` when malformed."""
    if not _CLIENT_LINE.match(line):
        return None
    out = dict.fromkeys(("name", "user", "created_at", "idle_since", "flags", "db", "omem", "cmd",
                         "host", "port", "resp"), "")
    for part in line.split(" "):
        key, eq, value = part.partition("=")
        if not eq or "=" in value:
            return None
        if key in ("name", "user", "flags", "db", "omem", "cmd", "resp"):
            out[key] = value
        elif key in ("age", "idle"):
            try:
                seconds = int(value)
            except ValueError:
                return None
            out["created_at" if key == "age" else "idle_since"] = str(now - seconds)
        elif key == "addr":
            host, sep, port = value.rpartition(":")
            if not sep:
                return None
            out["host"], out["port"] = host, port
    return out
