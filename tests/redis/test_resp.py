"""Addresses, the RESP encoder and reply reader: what -redis.addr accepts, that secrets stay
out of text, and that replies read the same however the bytes arrive."""

from __future__ import annotations

import random

import pytest

from exporters.redis.resp import (
    Address,
    Incomplete,
    ProtocolError,
    ReplyError,
    ReplyReader,
    encode_command,
    parse_address,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:6379", Address("redis", "localhost", 6379)),
        ("redis://10.0.0.1", Address("redis", "10.0.0.1", 6379)),
        ("rediss://cache.example:6380/3", Address("rediss", "cache.example", 6380, db=3)),
        ("redis://user:p%40ss@h:1", Address("redis", "h", 1, username="user", password="p@ss")),
        ("redis://:secret@h:1", Address("redis", "h", 1, password="secret")),
        ("redis://[::1]:7000", Address("redis", "::1", 7000)),
        ("unix:///run/redis.sock", Address("unix", path="/run/redis.sock")),
        ("unix:///run/redis.sock?db=2", Address("unix", path="/run/redis.sock", db=2)),
        ("redis://h:1?db=4", Address("redis", "h", 1, db=4)),
    ],
)
def test_parse_address(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text",
    ["http://h:1", "redis://:secret@h:notaport", "redis://:secret@h:1/x", "unix://", "redis://h:1/-1"],
)
def test_parse_address_errors_hide_the_password(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_address(text)
    assert "secret" not in str(err.value)


def test_redacted_forms() -> None:
    address = parse_address("rediss://admin:secret@[::1]:7000/2")
    assert address.redacted() == "rediss://[::1]:7000"
    assert address.dial_name() == "tcp [::1]:7000"
    assert parse_address("unix:///run/r.sock").dial_name() == "unix /run/r.sock"


def test_encode_command() -> None:
    assert encode_command(("SET", "k", b"\x00v", 5)) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x00v\r\n$1\r\n5\r\n"
    assert encode_command(("GET", "ключ")) == "*2\r\n$3\r\nGET\r\n$8\r\nключ\r\n".encode()


# -- the reply reader -----------------------------------------------------------------------


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _array(items: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


# Values that keep an array off the one-pass path: a CRLF inside, empty, longer than 511.
_ODD_VALUES = [b"a\r\nb", b"", b"\r\n", b"x" * 600, b"$3", b"*2\r\n$1\r\nz"]
_SCAN_KEYS = [b"key:%d" % i for i in range(200)]
_STREAM = b"".join([
    b"+OK\r\n",
    b":-5\r\n",
    b"$-1\r\n",
    b"*-1\r\n",
    b"*0\r\n",
    b"-ERR unknown command\r\n",
    _array([_bulk(b"1234"), _array([_bulk(k) for k in _SCAN_KEYS])]),  # a SCAN reply
    _array([_bulk(v) for v in _ODD_VALUES * 8]),
    _array([_bulk(b"v")] * 39 + [b":5\r\n"]),  # bulk strings, then an integer
    _array([_bulk(b"v")] * 39 + [b"$-1\r\n"]),  # bulk strings, then nil
    _array([_array([b":1\r\n", _array([])]), _bulk(b"a\r\nb")]),
])
_EXPECTED: list[object] = [
    b"OK", -5, None, None, [], "ERR unknown command", [b"1234", _SCAN_KEYS], _ODD_VALUES * 8,
    [b"v"] * 39 + [5], [b"v"] * 39 + [None], [[1, []], b"a\r\nb"],
]


def _read_all(data: bytes, cuts: list[int]) -> list[object]:
    reader = ReplyReader()
    out: list[object] = []
    start = 0
    for cut in [*cuts, len(data)]:
        reader.feed(data[start:cut])
        start = cut
        while not isinstance(reply := reader.next_reply(), Incomplete):
            out.append(reply.message if isinstance(reply, ReplyError) else reply)
    return out


def test_reply_reader_reads_a_stream_in_one_piece() -> None:
    assert _read_all(_STREAM, []) == _EXPECTED


def test_reply_reader_reads_a_stream_byte_by_byte() -> None:
    assert _read_all(_STREAM, list(range(1, len(_STREAM)))) == _EXPECTED


@pytest.mark.parametrize("seed", range(20))
def test_reply_reader_reads_a_stream_cut_anywhere(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(_STREAM)), rng.randint(1, 40)))
    assert _read_all(_STREAM, cuts) == _EXPECTED


def test_reply_reader_long_bulk_string_in_many_pieces() -> None:
    value = bytes(range(256)) * 1000
    data = _bulk(value) + b":1\r\n"
    cuts = list(range(1000, len(data), 1000))
    assert _read_all(data, cuts) == [value, 1]


def test_reply_reader_waits_for_the_rest() -> None:
    reader = ReplyReader()
    reader.feed(b"*2\r\n$3\r\nfo")
    assert isinstance(reader.next_reply(), Incomplete)
    reader.feed(b"o\r\n")
    assert isinstance(reader.next_reply(), Incomplete)
    reader.feed(b":7\r\n")
    assert reader.next_reply() == [b"foo", 7]
    assert isinstance(reader.next_reply(), Incomplete)


@pytest.mark.parametrize("data", [b"?what\r\n", b"$abc\r\n", b":1.5\r\n", b"*x\r\n", b"\r\n"])
def test_reply_reader_refuses_what_is_not_resp(data: bytes) -> None:
    reader = ReplyReader()
    reader.feed(data)
    with pytest.raises(ProtocolError):
        reader.next_reply()


@pytest.mark.timeout(60)
def test_runtime_imports_hiredis_not_redis_py() -> None:
    """The dependency list says what the runtime imports: hiredis parses RESP, redis-py is for tests."""
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    code = ("import sys, exporters.redis.main\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'hiredis')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=50)
    loaded = out.stdout.strip()
    assert "hiredis" in loaded and "'redis" not in loaded
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    runtime = {d.split(">")[0].split("[")[0] for d in project["dependencies"]}
    assert "hiredis" in runtime and "redis" not in runtime
    assert any(d.startswith("redis") for d in project["optional-dependencies"]["test"])
