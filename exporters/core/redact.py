"""Secrets never reach a log line, a label or an error message."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit

MASK = "xxxxx"


def redact(text: str, secrets: Iterable[str], mask: str = MASK) -> str:
    """``text`` with every occurrence of each secret (and its URL-quoted form) masked
    (``mask``: an upstream's own spelling, postgres_exporter's ``PASSWORD_REMOVED``)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask)
            quoted = quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, mask)
    return text


def redact_url(url: str) -> str:
    """A URL with the password of its user information masked (``redis://u:xxxxx@h:6379``).

    Text that does not parse as a URL is returned without its user information at all.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.rpartition("@")[2]
    if not password:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit((parts.scheme, f"{user}:{MASK}@{hostport}", parts.path, parts.query, parts.fragment))
