"""One persistent connection per target, and the read-only scrape session on top of it.

Every scrape runs in ``BEGIN READ ONLY`` transactions whose ``statement_timeout`` and
``lock_timeout`` come from the scrape deadline, so no statement outlives the scrape and
none waits long behind an ``ACCESS EXCLUSIVE`` lock. A failing query costs only its own
metrics: the aborted transaction is rolled back and a fresh one begun for the next query.
The exporter never writes: every transaction is read-only and rolled back.

Round trips are what a default scrape costs (each is a wait on the server, a wake-up of
both processes, and psycopg's own work), so there are as few as possible:

- BEGIN and the timeouts travel together, and BEGIN doubles as the liveness check;
- statements stay prepared from one scrape to the next (``end_transaction``);
- the built-in queries, known before the scrape starts, travel in one pipeline
  (``Session.prefetch``); the queries file's run one round trip each;
- the timeouts are only lowered again when the deadline has come closer than
  ``TIMEOUT_SLACK`` allows, not before every statement.
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
from psycopg import pq

from exporters.postgres.dsn import Dsn

APPLICATION_NAME = "postgres_exporter"
DEFAULT_CONNECT_TIMEOUT = 5.0
# never wait longer than this for a lock, whatever the deadline: a size function on a
# table under ACCESS EXCLUSIVE fails fast instead of holding the scrape
MAX_LOCK_TIMEOUT = 1.0
# leave this much of the deadline for rendering the response
DEADLINE_MARGIN = 0.2
NO_DEADLINE_STATEMENT_TIMEOUT = 30.0
# a statement may run this far into DEADLINE_MARGIN before the timeouts are lowered again
TIMEOUT_SLACK = 0.1


class ConnectError(Exception):
    """The server could not be reached or refused the credentials (message redacted)."""


class QueryError(Exception):
    """A query that broke the rules of the scrape session."""


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
        # monotonic time by which the statement_timeout in force lets a statement run
        self._bound = 0.0
        # results of ``prefetch``, answered once each by ``query``
        self._prefetched: dict[tuple[str, str], Result] = {}

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def begin(self) -> None:
        """Open the read-only transaction with its timeouts: one round trip, no parameters."""
        now = time.monotonic()
        statement_ms, lock_ms = timeout_settings(None if self.deadline is None else self.deadline - now)
        # simple protocol (no parameters): both statements travel together
        self.conn.execute(
            "BEGIN READ ONLY; "
            f"SELECT set_config('statement_timeout', '{statement_ms}ms', true), "
            f"set_config('lock_timeout', '{lock_ms}ms', true)".encode()
        )
        self._bound = now + statement_ms / 1000.0

    def query(self, text: str, params: Sequence[Any] | None = None) -> Result:
        """Run one statement; raise on failure, leaving the session usable."""
        if self.closed:
            raise DeadlineExceeded("scrape session already finished")
        if self._prefetched:
            found = self._prefetched.pop(_statement_key(text, params), None)
            if found is not None:
                return found
        left = self.remaining()
        if left is not None and left <= 0.01:
            raise DeadlineExceeded("scrape deadline passed before the query started")
        with self.target.lock:
            if left is not None and self._bound > time.monotonic() + max(0.01, left - DEADLINE_MARGIN) + TIMEOUT_SLACK:
                self._set_timeouts(left)
            try:
                columns, rows = self._run(text, params)
            except psycopg.errors.FeatureNotSupported as err:
                stale = "cached plan" in str(err)
                self._restart(forget=stale)
                if not stale:
                    raise
                # a relation the query reads changed its columns since it was prepared:
                # psycopg forgot its statements with the ROLLBACK, prepare afresh
                try:
                    columns, rows = self._run(text, params)
                except Exception:
                    self._restart()
                    raise
            except Exception:
                self._restart()
                raise
            if self.conn.info.transaction_status != pq.TransactionStatus.INTRANS:
                # "COMMIT" or "ROLLBACK" as a query: what follows must not run outside
                # a read-only transaction
                self._restart()
                raise QueryError("the query ended the scrape's transaction")
        return Result(columns, rows)

    def prefetch(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> int:
        """Run statements the scrape is about to ``query`` in one pipeline: one round trip
        and one wake-up of the server instead of one each. Returns how many were answered.

        Each statement of the batch gets an equal share of the time left as its
        ``statement_timeout``, so the batch as a whole ends within the deadline. When one
        fails (or exceeds its share), it and those after it are simply not answered here:
        ``query`` runs them one by one later, with the usual timeouts and error reports.
        """
        if self.closed or not statements or not psycopg.Pipeline.is_supported():
            return 0
        left = self.remaining()
        if left is not None and left <= DEADLINE_MARGIN:
            return 0
        statement_ms, _ = timeout_settings(left)
        share_ms = max(1, statement_ms // len(statements))
        ran: list[tuple[tuple[str, str], psycopg.Cursor[Any]]] = []
        failed = False
        with self.target.lock:
            start = time.monotonic()
            try:
                with self.conn.pipeline():
                    self.conn.execute(SET_STATEMENT_TIMEOUT, [f"{share_ms}ms"], prepare=True)
                    for text, params in statements:
                        cur = self.conn.cursor()
                        cur.execute(text.encode("utf-8"), params, prepare=True)
                        ran.append((_statement_key(text, params), cur))
                    # back to the whole budget for what runs after the batch
                    self.conn.execute(SET_STATEMENT_TIMEOUT, [f"{statement_ms}ms"], prepare=True)
            except psycopg.Error:
                failed = True
            for key, cur in ran:
                result = cur.pgresult
                if result is None or result.status != pq.ExecStatus.TUPLES_OK or cur.description is None:
                    failed = True
                    break
                self._prefetched[key] = Result([c.name for c in cur.description], cur.fetchall())
                cur.close()
            if failed or self.conn.info.transaction_status != pq.TransactionStatus.INTRANS:
                self._restart()
            else:
                self._bound = start + statement_ms / 1000.0
        return len(self._prefetched)

    def _run(self, text: str, params: Sequence[Any] | None) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.conn.cursor() as cur:
            # prepared (extended protocol): a string holding several statements
            # ("COMMIT; INSERT ...") is refused instead of run; kept prepared from one
            # scrape to the next (see ``end_transaction``)
            cur.execute(text.encode("utf-8"), params, prepare=True)
            columns = [c.name for c in cur.description or []]
            rows = cur.fetchall() if cur.description is not None else []
        return columns, rows

    def _restart(self, forget: bool = False) -> None:
        """After a failed statement: roll the aborted transaction back and begin a new one.
        ``forget``: drop the prepared statements too (one went stale)."""
        if self.conn.closed or self.conn.broken:
            return
        try:
            if forget:
                self.conn.execute("ROLLBACK")
            elif self.conn.info.transaction_status != pq.TransactionStatus.IDLE:
                end_transaction(self.conn)
            self.begin()
        except Exception:  # noqa: BLE001 - the next query fails on the broken connection and says so
            pass

    def _set_timeouts(self, left: float | None) -> None:
        statement_ms, lock_ms = timeout_settings(left)
        self.conn.execute(
            "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
            [f"{statement_ms}ms", f"{lock_ms}ms"],
            prepare=True,
        )
        self._bound = time.monotonic() + statement_ms / 1000.0


SET_STATEMENT_TIMEOUT = "SELECT set_config('statement_timeout', %s, true)"


def _statement_key(text: str, params: Sequence[Any] | None) -> tuple[str, str]:
    return text, repr(list(params or ()))


def timeout_settings(left: float | None) -> tuple[int, int]:
    """(statement_timeout, lock_timeout) in milliseconds for the time left in the scrape."""
    budget = NO_DEADLINE_STATEMENT_TIMEOUT if left is None else max(0.01, left - DEADLINE_MARGIN)
    statement_ms = max(1, int(budget * 1000))
    return statement_ms, max(1, min(statement_ms, int(MAX_LOCK_TIMEOUT * 1000)))


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

    def connection(self, deadline: float | None) -> psycopg.Connection[Any]:
        """The persistent connection, opened if there is none (not checked: see ``session``)."""
        with self.lock:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self.close()
            if self._conn is None:
                self._conn = self._connect(deadline)
            return self._conn

    def _begin(self, deadline: float | None) -> tuple[psycopg.Connection[Any], Session]:
        """A session on a live connection. BEGIN is the liveness check: a connection that
        went away (server restart) is re-established once."""
        with self.lock:
            fresh = self._conn is None or self._conn.closed or self._conn.broken
            conn = self.connection(deadline)
            session = Session(self, conn, deadline)
            try:
                session.begin()
                return conn, session
            except Exception as err:  # noqa: BLE001 - a failed BEGIN means the connection is unusable
                self.close()
                if fresh:
                    raise ConnectError(self.dsn.redact(_one_line(err))) from None
            self.logger.info("database connection lost, reconnecting", extra={"target": self.dsn.display()})
            conn = self.connection(deadline)
            session = Session(self, conn, deadline)
            try:
                session.begin()
            except Exception as err:  # noqa: BLE001 - lost again right after connecting
                self.close()
                raise ConnectError(self.dsn.redact(_one_line(err))) from None
            return conn, session

    @contextmanager
    def session(self, deadline: float | None) -> Iterator[Session]:
        """A read-only transaction for one scrape; rolled back at the end."""
        wait = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self.scrape_lock.acquire(timeout=wait):
            raise DeadlineExceeded("another scrape of this target is still running")
        try:
            conn, session = self._begin(deadline)
            try:
                yield session
            finally:
                session.closed = True
                with self.lock:
                    try:
                        end_transaction(conn)
                    except Exception:  # noqa: BLE001 - a broken connection is replaced next scrape
                        self.close()
        finally:
            self.scrape_lock.release()


def end_transaction(conn: psycopg.Connection[Any]) -> None:
    """Roll the scrape's transaction back, keeping the prepared statements.

    psycopg forgets every prepared statement when it sees a ROLLBACK go through it (to be
    safe after DDL), which would cost each query a Parse round trip on every scrape. The
    ROLLBACK goes through the underlying libpq connection instead; a statement whose plan
    went stale is prepared afresh by ``Session.query``.
    """
    result = conn.pgconn.exec_(b"ROLLBACK")
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise psycopg.OperationalError(
            (result.error_message or b"ROLLBACK failed").decode("utf-8", "replace").strip())


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return " ".join(text.split())
