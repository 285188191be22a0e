"""PostgreSQL versions and the semver ranges upstream uses for them (``>=10.0.0 <14.0.0``).

The range syntax is blang/semver's: conditions separated by spaces must all hold, and
alternatives are separated by ``||``. Operators: ``>``, ``>=``, ``<``, ``<=``, ``=``/``==``
(or none), ``!=``/``!``. Missing minor/patch numbers count as 0.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

Version = tuple[int, int, int]

_OPS: dict[str, Callable[[Version, Version], bool]] = {
    ">=": operator.ge, "<=": operator.le, "!=": operator.ne, "==": operator.eq,
    ">": operator.gt, "<": operator.lt, "=": operator.eq, "!": operator.ne, "": operator.eq,
}
_CONDITION = re.compile(r"^(>=|<=|!=|==|>|<|=|!)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_VERSION_STRING = re.compile(r"^\w+ (\d+)(?:\.(\d+))?(?:\.(\d+))?")


class VersionRangeError(ValueError):
    """A range that does not parse."""


def parse_version_string(text: str) -> Version | None:
    """The version in ``SELECT version()`` output (``PostgreSQL 15.4 (Debian ...)``)."""
    match = _VERSION_STRING.match(text)
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0))


def format_version(version: Version) -> str:
    return ".".join(str(v) for v in version)


@dataclass(frozen=True)
class VersionRange:
    """A parsed range; call it with a version."""

    text: str
    alternatives: tuple[tuple[tuple[str, Version], ...], ...]

    def __call__(self, version: Version) -> bool:
        return any(all(_OPS[op](version, bound) for op, bound in conds) for conds in self.alternatives)

    def __str__(self) -> str:
        return self.text


def parse_range(text: str) -> VersionRange:
    """Parse ``>=9.4.0 <10.0.0 || >=12``; raises ``VersionRangeError``."""
    alternatives: list[tuple[tuple[str, Version], ...]] = []
    for part in str(text).split("||"):
        tokens = part.split()
        # blang allows a space between the operator and the version: ">= 10.0.0"
        joined: list[str] = []
        for token in tokens:
            if joined and joined[-1] in _OPS and joined[-1] != "":
                joined[-1] += token
            else:
                joined.append(token)
        if not joined:
            raise VersionRangeError(f"empty version range in {text!r}")
        conds: list[tuple[str, Version]] = []
        for token in joined:
            match = _CONDITION.match(token)
            if not match:
                raise VersionRangeError(f"invalid version condition {token!r} in range {text!r}")
            op = match.group(1) or ""
            conds.append((op, (int(match.group(2)), int(match.group(3) or 0), int(match.group(4) or 0))))
        alternatives.append(tuple(conds))
    return VersionRange(str(text), tuple(alternatives))
