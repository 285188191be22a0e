"""Target allowlists for the multi-target endpoints (postgres ``/probe``, redis ``/scrape``).

An allowlist is matched against the endpoint the client will really connect to, never against
the caller's spelling of the target: the exporter first works out every address its client
would use (for postgres after every libpq keyword, ``hostaddr``, unix sockets and service
files; for redis after URL parsing) as :class:`Endpoint` values, and a target is allowed only
when *every* one of them matches a pattern.

Patterns (comma-separated in the flags):

``host``, ``host:port``
    a host name or IPv4 address with optional shell wildcards (``*.db.internal``,
    ``10.0.0.*``); the port a number or ``*``; no port means any port. A pattern made only of
    digits, dots and wildcards is an address pattern and never matches a host *name*
    (``10.*`` does not allow ``10.attacker.example``).
``[2001:db8::5]``, ``[2001:db8::5]:5432``
    an IPv6 address, in brackets as in URLs.
``10.0.0.0/8``, ``[fd00::/8]:6379``
    an address range; matches IP-address endpoints only.
``unix:/run/postgresql/*``
    a unix socket path, wildcards allowed (a bare ``/path`` means the same). postgres sockets
    are ``DIR/.s.PGSQL.PORT``.

A leading ``scheme://`` (``redis://``, ``rediss://``, ``postgresql://``, ``unix://``) and a
trailing ``/database`` are ignored, so a target URL can be pasted as a pattern. Host names
compare case-insensitively and without a trailing dot. ``localhost``, ``127.0.0.1`` and ``::1``
match one another: all three name the machine the exporter runs on.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_INET_ATON = re.compile(r"^[0-9][0-9a-fA-FxX.]*$")
_HOSTNAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$")
_ADDRESS_GLOB = re.compile(r"^[0-9.*?\[\]!-]+$")


def canonical_host(host: str) -> str:
    """A host as the resolver will read it: IP literals normalised, names lowercased.

    Non-canonical IPv4 spellings that the C resolver accepts (``127.1``, ``0x7f.0.0.1``,
    ``2130706433``) become the dotted quad they mean; an IPv4-mapped IPv6 address becomes
    its IPv4 address; brackets around IPv6 are dropped.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    address = _ip(text)
    if address is not None:
        return str(address)
    return text.lower().rstrip(".")


def _ip(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if not _INET_ATON.match(text):
            return None
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class Endpoint:
    """One address a client connects to: TCP ``host`` and ``port``, or a unix socket ``path``.

    Build with :meth:`tcp` or :meth:`unix`, which canonicalise; ``str()`` is the canonical
    spelling (``db.internal:5432``, ``[::1]:6379``, ``unix:/run/postgresql/.s.PGSQL.5432``).
    """

    host: str = ""
    port: int = 0
    path: str = ""

    @classmethod
    def tcp(cls, host: str, port: int) -> Endpoint:
        return cls(host=canonical_host(host), port=port)

    @classmethod
    def unix(cls, path: str) -> Endpoint:
        # "@name" is the Linux abstract namespace (libpq >= 14); other paths lose "..".
        return cls(path=path if path.startswith("@") else os.path.normpath(path))

    @property
    def is_unix(self) -> bool:
        return bool(self.path)

    @property
    def address(self) -> IPAddress | None:
        """The IP address when the host is an IP literal, else None."""
        return None if self.is_unix else _ip(self.host)

    @property
    def is_loopback(self) -> bool:
        return not self.is_unix and self.host in LOOPBACK_NAMES

    def __str__(self) -> str:
        if self.is_unix:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class _Pattern:
    text: str
    host: str = ""
    port: str = ""
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    path: str = ""

    def matches(self, endpoint: Endpoint) -> bool:
        if self.path or endpoint.is_unix:
            return bool(self.path) and endpoint.is_unix and fnmatch.fnmatchcase(endpoint.path, self.path)
        if self.port and not fnmatch.fnmatchcase(str(endpoint.port), self.port):
            return False
        hosts: tuple[str, ...] = LOOPBACK_NAMES if endpoint.is_loopback else (endpoint.host,)
        if self.network is not None:
            addresses = [_ip(h) for h in hosts]
            return any(a is not None and a.version == self.network.version and a in self.network for a in addresses)
        address = endpoint.address
        if _ADDRESS_GLOB.match(self.host) and "." in self.host:
            # An address pattern: only IPv4 literals, never a name that starts with digits.
            hosts = tuple(h for h in hosts if isinstance(_ip(h), ipaddress.IPv4Address))
        elif address is None and not _HOSTNAME.match(endpoint.host):
            # Wildcards never match a host that no resolver would take as a name.
            return self.host == endpoint.host
        return any(fnmatch.fnmatchcase(h, self.host) for h in hosts)


def parse_pattern(text: str) -> _Pattern:
    """One allowlist entry; ``ValueError`` when it cannot name any endpoint."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty pattern")
    scheme = _SCHEME.match(raw)
    if scheme:
        unix = scheme.group(0).lower() == "unix://"
        raw = raw[scheme.end():]
        if unix:
            return _Pattern(text, path=os.path.normpath(raw.split("?", 1)[0]))
    if raw.lower().startswith("unix:"):
        raw = raw[5:]
        return _Pattern(text, path=raw if raw.startswith("@") else os.path.normpath(raw))
    if raw.startswith(("/", "@")):
        return _Pattern(text, path=raw if raw.startswith("@") else os.path.normpath(raw))
    raw = raw.rsplit("@", 1)[-1]  # userinfo of a pasted URL
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in {text!r}")
        host, rest = raw[1:end], raw[end + 1:]
        rest = rest.split("/", 1)[0]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after ']' in {text!r}")
        port = rest[1:]
    else:
        # "10.0.0.0/8" is a range; "db:5432/postgres" a host with a database.
        head, _, tail = raw.partition("/")
        host, _, port = head.partition(":")
        if tail and _ip(host) is not None:
            bits, _, port = tail.partition(":")
            host = f"{host}/{bits}"
    if not host:
        raise ValueError(f"no host in {text!r}")
    if port and not re.fullmatch(r"[0-9*?\[\]!-]+", port):
        raise ValueError(f"invalid port {port!r} in {text!r}")
    if "/" in host:
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            raise ValueError(f"invalid address range {host!r} in {text!r}") from None
        return _Pattern(text, port=port, network=network)
    canonical = canonical_host(host) if not any(c in host for c in "*?[") else host.lower().rstrip(".")
    return _Pattern(text, host=canonical, port=port)


class TargetAllowlist:
    """The operator's list of endpoints a multi-target request may reach.

    Empty means "no list configured"; what that allows is the caller's policy (upstream
    allows any target), so :meth:`allows` answers only for a configured list.
    """

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        parsed: list[_Pattern] = []
        errors: list[str] = []
        for text in patterns:
            if not text.strip():
                continue
            try:
                parsed.append(parse_pattern(text))
            except ValueError as err:
                errors.append(str(err))
        if errors:
            raise ValueError("; ".join(errors))
        self.patterns = tuple(parsed)

    @classmethod
    def parse(cls, text: str) -> TargetAllowlist:
        """From a flag value: comma-separated patterns, blanks ignored."""
        return cls(text.split(","))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"TargetAllowlist({', '.join(p.text for p in self.patterns)})"

    def match(self, endpoint: Endpoint) -> str | None:
        """The first pattern that allows ``endpoint``, or None."""
        for pattern in self.patterns:
            if pattern.matches(endpoint):
                return pattern.text
        return None

    def allows(self, endpoints: Iterable[Endpoint]) -> bool:
        """True when there is at least one endpoint and each matches some pattern."""
        listed = list(endpoints)
        return bool(listed) and all(self.match(e) is not None for e in listed)

    def refused(self, endpoints: Iterable[Endpoint]) -> list[Endpoint]:
        """The endpoints no pattern allows (for the refusal's log line)."""
        return [e for e in endpoints if self.match(e) is None]
