"""The scrape deadline, as collectors see it.

The runner sets the current scrape's ``Deadline`` around every collector run, so a
collector with a long loop (many files, many keys, many rows) can stop in time without a
parameter threaded through every call::

    from exporters.core.deadline import current_deadline

    deadline = current_deadline()
    for path in paths:
        deadline.check()          # raises DeadlineExceeded once time is up
        ...

A collector that stops early costs only its own metrics (the runner reports it failed),
as one that the runner gave up waiting for.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class DeadlineExceeded(Exception):
    """The scrape's deadline passed; raised by ``Deadline.check``."""


@dataclass(frozen=True)
class Deadline:
    """A ``clock()`` instant by which a scrape must answer; ``at=None`` means no deadline."""

    at: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(None if seconds is None else clock() + seconds, clock)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a deadline."""
        if self.at is None:
            return None
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        return self.at is not None and self.clock() >= self.at

    def check(self, doing: str = "") -> None:
        if self.expired():
            raise DeadlineExceeded(f"scrape deadline passed{' while ' + doing if doing else ''}")


NO_DEADLINE = Deadline()
_CURRENT: contextvars.ContextVar[Deadline] = contextvars.ContextVar("scrape_deadline", default=NO_DEADLINE)


def current_deadline() -> Deadline:
    """The deadline of the scrape this code runs for; ``NO_DEADLINE`` outside a scrape."""
    return _CURRENT.get()


@contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[Deadline]:
    """Make ``deadline`` the current one for the code in the ``with`` block (this thread)."""
    token = _CURRENT.set(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)
