"""Addresses and the RESP encoder: what -redis.addr accepts, and that secrets stay out of text."""

from __future__ import annotations

import pytest

from exporters.redis.resp import Address, encode_command, parse_address


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
