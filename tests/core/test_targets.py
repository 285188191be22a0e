"""The target allowlist: patterns against the endpoint the client really connects to."""

from __future__ import annotations

import pytest

from exporters.core.targets import Endpoint, TargetAllowlist, canonical_host, parse_pattern


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("DB.Example.Internal.", "db.example.internal"),
    ("127.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("::FFFF:10.0.0.1", "10.0.0.1"),
    ("[2001:DB8:0::1]", "2001:db8::1"),
    ("1abc", "1abc"),
])
def test_canonical_host(spelling: str, canonical: str) -> None:
    assert canonical_host(spelling) == canonical


def test_endpoint_spelling() -> None:
    assert str(Endpoint.tcp("::1", 6379)) == "[::1]:6379"
    assert str(Endpoint.tcp("DB", 5432)) == "db:5432"
    assert str(Endpoint.unix("/run/pg/../../tmp/.s.PGSQL.5432")) == "unix:/tmp/.s.PGSQL.5432"
    assert str(Endpoint.unix("@abstract")) == "unix:@abstract"


ALLOW = TargetAllowlist.parse(
    "db.example.internal:5432, *.replicas.internal, 10.1.*:6379, 192.168.0.0/16:5432, [fd00::/8], "
    "unix:/run/postgresql/*, redis://cache.internal:6380/0, localhost:9999"
)


@pytest.mark.parametrize(("endpoint", "allowed"), [
    (Endpoint.tcp("db.example.internal", 5432), True),
    (Endpoint.tcp("DB.EXAMPLE.INTERNAL.", 5432), True),
    (Endpoint.tcp("db.example.internal", 5433), False),
    (Endpoint.tcp("a.replicas.internal", 1), True),
    (Endpoint.tcp("replicas.internal", 1), False),
    (Endpoint.tcp("evil.example#.replicas.internal", 1), False),
    (Endpoint.tcp("10.1.2.3", 6379), True),
    (Endpoint.tcp("10.1.attacker.example", 6379), False),
    (Endpoint.tcp("192.168.7.7", 5432), True),
    (Endpoint.tcp("192.168.7.7", 5433), False),
    (Endpoint.tcp("::ffff:192.168.7.7", 5432), True),
    (Endpoint.tcp("fd12::1", 1), True),
    (Endpoint.tcp("fe80::1", 1), False),
    (Endpoint.unix("/run/postgresql/.s.PGSQL.5432"), True),
    (Endpoint.unix("/run/postgresql/../../tmp/.s.PGSQL.5432"), False),
    (Endpoint.unix("/tmp/.s.PGSQL.5432"), False),
    (Endpoint.tcp("cache.internal", 6380), True),
    (Endpoint.tcp("127.0.0.1", 9999), True),
    (Endpoint.tcp("::1", 9999), True),
    (Endpoint.tcp("127.0.0.2", 9999), False),
])
def test_allowlist(endpoint: Endpoint, allowed: bool) -> None:
    assert ALLOW.allows([endpoint]) is allowed


def test_every_endpoint_must_match() -> None:
    good = Endpoint.tcp("db.example.internal", 5432)
    bad = Endpoint.tcp("attacker.example", 5432)
    assert ALLOW.allows([good])
    assert not ALLOW.allows([good, bad])
    assert ALLOW.refused([good, bad]) == [bad]
    assert not ALLOW.allows([])


def test_unix_pattern_never_matches_tcp() -> None:
    allow = TargetAllowlist.parse("/tmp/*")
    assert allow.allows([Endpoint.unix("/tmp/redis.sock")])
    assert not allow.allows([Endpoint.tcp("tmp", 1)])
    assert not TargetAllowlist.parse("*").allows([Endpoint.unix("/tmp/x")])


def test_empty_and_invalid() -> None:
    assert not TargetAllowlist.parse(" , ")
    with pytest.raises(ValueError, match="invalid port"):
        TargetAllowlist.parse("db:port")
    with pytest.raises(ValueError, match="address range"):
        parse_pattern("10.0.0.0/99")
    with pytest.raises(ValueError, match="unclosed"):
        parse_pattern("[::1")
