"""One persistent connection per target, and the read-only scrape session on top of it.

Every scrape runs in a single ``BEGIN READ ONLY`` transaction whose ``statement_timeout``
and ``lock_timeout`` come from the scrape deadline, so no statement outlives the scrape
and none waits long behind an ``ACCESS EXCLUSIVE`` lock. Each query runs under its own
savepoint: a failing query costs only its own metrics, not the rest of the scrape.
The exporter never writes: the transaction is read-only and always rolled back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from exporters.postgres.dsn import Dsn

APPLICATION_NAME = "postgres_exporter"
DEFAULT_CONNECT_TIMEOUT = 5.0
# never wait longer than this for a lock, whatever the deadline: a size function on a
# table under ACCESS EXCLUSIVE fails fast instead of holding the scrape
MAX_LOCK_TIMEOUT = 1.0
# leave this much of the deadline for rendering the response
DEADLINE_MARGIN = 0.2
NO_DEADLINE_STATEMENT_TIMEOUT = 30.0


class ConnectError(Exception):
    """The server could not be reached or refused the credentials (message redacted)."""


class DeadlineExceeded(Exception):
    """The scrape deadline passed before a query could start."""


@dataclass(frozen=True)
class Result:
    """The rows of one query, with column names."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def server_version_tuple(version_num: int) -> tuple[int, int, int]:
    """``150004`` -> ``(15, 4, 0)``; ``90624`` -> ``(9, 6, 24)`` (pre-10 numbering)."""
    major = version_num // 10000
    if major >= 10:
        return (major, version_num % 10000, 0)
    return (major, (version_num // 100) % 100, version_num % 100)


class Session:
    """A scrape's read-only transaction on a target's connection."""

    def __init__(self, target: Target, conn: psycopg.Connection[Any], deadline: float | None) -> None:
        self.target = target
        self.conn = conn
        self.deadline = deadline
        self.version = server_version_tuple(conn.info.server_version)
        self.closed = False

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def query(self, text: str, params: Sequence[Any] | None = None) -> Result:
        """Run one statement under a savepoint; raise on failure, leaving the session usable."""
        if self.closed:
            raise DeadlineExceeded("scrape session already finished")
        left = self.remaining()
        if left is not None and left <= 0.01:
            raise DeadlineExceeded("scrape deadline passed before the query started")
        with self.target.lock:
            self._set_timeouts(left)
            with self.conn.transaction(), self.conn.cursor() as cur:
                # prepared (extended protocol): a string holding several statements
                # ("COMMIT; INSERT ...") is refused instead of run
                cur.execute(text.encode("utf-8"), params, prepare=True)
                columns = [c.name for c in cur.description or []]
                rows = cur.fetchall() if cur.description is not None else []
        return Result(columns, rows)

    def _set_timeouts(self, left: float | None) -> None:
        budget = NO_DEADLINE_STATEMENT_TIMEOUT if left is None else max(0.01, left - DEADLINE_MARGIN)
        statement_ms = max(1, int(budget * 1000))
        lock_ms = max(1, min(statement_ms, int(MAX_LOCK_TIMEOUT * 1000)))
        self.conn.execute(
            sql.SQL("SELECT set_config('statement_timeout', {}, true), set_config('lock_timeout', {}, true)").format(
                sql.Literal(f"{statement_ms}ms"), sql.Literal(f"{lock_ms}ms")
            )
        )


class Target:
    """A PostgreSQL server (one DSN) and its persistent connection."""

    def __init__(
        self,
        dsn: Dsn,
        logger: logging.Logger,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        application_name: str = APPLICATION_NAME,
    ) -> None:
        self.dsn = dsn
        self.logger = logger
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        self.lock = threading.RLock()
        # scrapes of one target take turns: they share its single connection
        self.scrape_lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def server(self) -> str:
        return self.dsn.server

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:  # noqa: BLE001 - closing a broken connection may fail; nothing to do
                    pass
                self._conn = None

    def _connect(self, deadline: float | None) -> psycopg.Connection[Any]:
        timeout = self.connect_timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise ConnectError("scrape deadline passed before connecting")
        params = dict(self.dsn.params)
        params.setdefault("application_name", self.application_name)
        try:
            # a shorter connect_timeout in the DSN itself is honoured
            given = float(params.get("connect_timeout", 0))
            if given > 0:
                timeout = min(timeout, given)
        except ValueError:
            pass
        # libpq counts whole seconds with a minimum of 2; psycopg enforces it itself
        params["connect_timeout"] = str(max(1, int(timeout)))
        try:
            conn = psycopg.connect(**params, autocommit=True)  # type: ignore[arg-type]
        except Exception as err:  # noqa: BLE001 - every failure to connect means "down"
            raise ConnectError(self.dsn.redact(_one_line(err))) from None
        self.logger.info("established new database connection", extra={"target": self.dsn.display()})
        return conn

    def _alive(self, conn: psycopg.Connection[Any]) -> bool:
        if conn.closed or conn.broken:
            return False
        try:
            conn.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - a failed ping means reconnect
            return False
        return True

    def connection(self, deadline: float | None) -> psycopg.Connection[Any]:
        """The persistent connection, checked; re-established once if it went away."""
        with self.lock:
            if self._conn is not None and not self._alive(self._conn):
                self.logger.info("database connection lost, reconnecting", extra={"target": self.dsn.display()})
                self.close()
            if self._conn is None:
                self._conn = self._connect(deadline)
            return self._conn

    @contextmanager
    def session(self, deadline: float | None) -> Iterator[Session]:
        """A read-only transaction for one scrape; rolled back at the end."""
        wait = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self.scrape_lock.acquire(timeout=wait):
            raise DeadlineExceeded("another scrape of this target is still running")
        try:
            conn = self.connection(deadline)
            with self.lock:
                try:
                    conn.execute("BEGIN READ ONLY")
                except Exception as err:  # noqa: BLE001 - lost between ping and BEGIN
                    self.close()
                    raise ConnectError(self.dsn.redact(_one_line(err))) from None
            session = Session(self, conn, deadline)
            try:
                yield session
            finally:
                session.closed = True
                with self.lock:
                    try:
                        conn.execute("ROLLBACK")
                    except Exception:  # noqa: BLE001 - a broken connection is replaced next scrape
                        self.close()
        finally:
            self.scrape_lock.release()


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return " ".join(text.split())
