"""Data source names: where they come from, how they are shown, what identifies a server.

postgres_exporter reads ``DATA_SOURCE_NAME`` (several DSNs separated by commas) or builds
one DSN from ``DATA_SOURCE_URI`` / ``DATA_SOURCE_USER`` / ``DATA_SOURCE_PASS`` (each also
as ``*_FILE``, which wins over the plain variable). A DSN is a ``postgresql://`` URI or a
libpq ``key=value`` string. The password never leaves this module except inside the
connection parameters handed to psycopg: everything shown to a human goes through
``Dsn.display`` or ``redact``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from exporters.core.flags import ConfigError
from exporters.core.redact import redact as core_redact

MASK = "PASSWORD_REMOVED"
# libpq parameters whose values are secrets (and any other named like one)
SECRET_KEYS = ("password", "sslpassword", "oauth_client_secret")


def is_secret(key: str) -> bool:
    return key in SECRET_KEYS or "password" in key or "secret" in key or "token" in key
_KEYVALUE = re.compile(r"^\s*[A-Za-z0-9_]+\s*=")


@dataclass(frozen=True)
class Dsn:
    """One parsed data source: libpq parameters, never printed whole."""

    params: Mapping[str, str] = field(default_factory=dict)
    # why this entry cannot be used (a malformed DATA_SOURCE_NAME entry): every scrape of it
    # fails with this message and pg_up is 0, as upstream serves it
    error: str = ""

    @classmethod
    def parse(cls, text: str, what: str = "data source name") -> Dsn:
        """Parse a URI or ``key=value`` DSN; a bare ``host:port/db`` is read as a URI (upstream)."""
        raw = text.strip()
        if not raw:
            raise ConfigError(f"{what} is empty")
        if not raw.startswith(("postgresql://", "postgres://")) and not _KEYVALUE.match(raw):
            raw = "postgresql://" + raw
        try:
            params = conninfo_to_dict(raw)
        except Exception:  # noqa: BLE001 - psycopg's message may quote the password
            raise ConfigError(f"could not parse {what} (neither a postgresql:// URI nor key=value pairs)") from None
        return cls({k: str(v) for k, v in params.items() if v is not None})

    @property
    def password(self) -> str:
        return self.params.get("password", "")

    @property
    def secrets(self) -> list[str]:
        return [v for k, v in self.params.items() if is_secret(k) and v]

    @property
    def server(self) -> str:
        """``host:port`` as upstream's ``server`` label (defaults localhost and 5432)."""
        host = self.params.get("host") or "localhost"
        port = self.params.get("port") or "5432"
        return f"{host}:{port}"

    @property
    def dbname(self) -> str:
        return self.params.get("dbname", "")

    def with_params(self, **changes: str) -> Dsn:
        params = dict(self.params)
        params.update(changes)
        return Dsn(params)

    def conninfo(self) -> str:
        """The libpq connection string, password included: for psycopg only."""
        return make_conninfo("", **self.params)

    def display(self) -> str:
        """A URI for logs and labels with the password replaced."""
        if self.error:
            return "could not parse DATA_SOURCE_NAME"
        user = self.params.get("user", "")
        userinfo = ""
        if user:
            userinfo = quote(user, safe="")
            if self.password:
                userinfo += ":" + MASK
            userinfo += "@"
        query = "&".join(
            f"{k}={MASK if is_secret(k) else quote(v, safe='')}"
            for k, v in sorted(self.params.items())
            if k not in ("user", "password", "host", "port", "dbname")
        )
        text = f"postgresql://{userinfo}{self.server}/{quote(self.dbname, safe='')}"
        return text + ("?" + query if query else "")

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def __repr__(self) -> str:
        return f"Dsn({self.display()})"

    __str__ = display


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of each secret (and its URL-quoted form) masked."""
    return core_redact(text, secrets, MASK)


def _read_secret_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as err:
        raise ConfigError(f"failed loading data source {what} file {path}: {err.strerror}") from None


def data_sources_from_env(env: Mapping[str, str] | None = None, lenient: bool = False) -> list[Dsn]:
    """The DSNs the environment names, in upstream's order of precedence.

    ``DATA_SOURCE_NAME`` wins; otherwise ``DATA_SOURCE_URI[_FILE]`` with
    ``DATA_SOURCE_USER[_FILE]`` / ``DATA_SOURCE_PASS[_FILE]``. None at all is allowed:
    the exporter then serves only ``/probe``. ``lenient``: a malformed entry becomes a
    ``Dsn`` with ``error`` set (upstream starts and reports ``pg_up 0``); an unreadable
    ``*_FILE`` still raises (upstream exits).
    """
    environ = os.environ if env is None else env
    names = environ.get("DATA_SOURCE_NAME", "")
    if names:
        parts = [p for p in names.split(",") if p.strip()]
        out = []
        for i, part in enumerate(parts):
            try:
                out.append(Dsn.parse(part, f"DATA_SOURCE_NAME entry {i + 1}"))
            except ConfigError as err:
                if not lenient:
                    raise
                out.append(Dsn(error=str(err)))
        return out

    def value(name: str, what: str) -> str:
        path = environ.get(f"{name}_FILE", "")
        if path:
            return _read_secret_file(path, what)
        return environ.get(name, "")

    user = value("DATA_SOURCE_USER", "user")
    password = value("DATA_SOURCE_PASS", "pass")
    uri = value("DATA_SOURCE_URI", "URI")
    if not uri:
        return []
    userinfo = quote(user, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    base = Dsn.parse(f"postgresql://{userinfo}@{uri}" if userinfo else f"postgresql://{uri}", "DATA_SOURCE_URI")
    return [base]


def one_line(err: BaseException) -> str:
    """An exception's message on one line (libpq's span several)."""
    text = str(err).strip() or type(err).__name__
    return " ".join(text.split())
