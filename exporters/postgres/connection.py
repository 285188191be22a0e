"""One connection per server, and the executor that runs a scrape's statements on it.

The connection is in autocommit: every statement is its own transaction, as with
postgres_exporter, so no statement holds a lock beyond its own run (an ``ALTER TABLE``
issued during a scrape waits for at most the one statement that touched its table).
The statements of a scrape still travel together: they are sent in one libpq pipeline
with a Sync after each, which closes each one's implicit transaction, so a scrape costs
one round trip however many statements it has, and a failing statement costs only itself.

Access modes: the built-in collectors' statements run with
``default_transaction_read_only`` on; a queries file's run in the session's default
access mode, as upstream runs them (pgmonitor's queries call functions that write).
``lock_timeout`` holds for the built-ins only, ``statement_timeout`` for all, from the
scrape deadline. ``pg_settings_*`` read ``reset_val`` for the settings set here, so they
report the server's values, not these.

Values are loaded as lib/pq (upstream's driver) returns them: numbers and booleans as
such, timestamps as datetimes, numeric, arrays, intervals and everything else as the
server's text (see ``values.py``). Text that is not valid UTF-8 (a ``SQL_ASCII``
database) is decoded with replacement characters instead of failing the statement.

Rows are read in chunks; past ``max_rows`` for a statement (or for the whole run) they
are counted and dropped, so a runaway query costs bounded memory and CPU.
"""

from __future__ import annotations

import logging
import math
import select
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import AdaptersMap, Loader, Transformer
from psycopg.types.string import TextLoader

from exporters.core.deadline import DeadlineExceeded
from exporters.postgres.dsn import Dsn, one_line

__all__ = ["ConnectError", "DeadlineExceeded", "Result", "RowBudget", "Statement", "Target"]

APPLICATION_NAME = "postgres_exporter"
DEFAULT_CONNECT_TIMEOUT = 5.0
# never wait longer than this for a lock in a built-in statement, whatever the deadline:
# a size function on a table under ACCESS EXCLUSIVE fails fast instead of holding the scrape
MAX_LOCK_TIMEOUT = 1.0
# leave this much of the deadline for building and rendering the response
DEADLINE_MARGIN = 0.2
NO_DEADLINE_STATEMENT_TIMEOUT = 30.0
MAX_TIMEOUT_MS = 2**31 - 1
CHUNK_ROWS = 2000
MULTIPLE_COMMANDS = "cannot insert multiple commands into a prepared statement"
_EXEC = pq.ExecStatus

# OIDs loaded as text, as lib/pq returns them
_TEXT_OIDS = (1700, 1186)  # numeric, interval
_TIME_OIDS = (1082, 1114, 1184)  # date, timestamp, timestamptz
_FLOAT4 = 700


class ConnectError(Exception):
    """The server could not be reached or refused the credentials (message redacted)."""


@dataclass(frozen=True)
class Statement:
    """One statement of a scrape. ``params`` are text values for ``$1``..."""

    sql: str
    params: tuple[str | None, ...] = ()
    read_only: bool = True


@dataclass
class Result:
    """What one statement gave: columns and rows, or an error (one line, redacted)."""

    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    error: str = ""
    sqlstate: str = ""
    seconds: float = 0.0
    dropped_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class RowBudget:
    """Rows a run may still keep: per statement and in total."""

    per_statement: int
    total: int


def server_version_tuple(version_num: int) -> tuple[int, int, int]:
    """``150004`` -> ``(15, 4, 0)``; ``90624`` -> ``(9, 6, 24)`` (pre-10 numbering)."""
    major = version_num // 10000
    if major >= 10:
        return (major, version_num % 10000, 0)
    return (major, (version_num // 100) % 100, version_num % 100)


def timeout_settings(left: float | None) -> tuple[int, int]:
    """(statement_timeout, lock_timeout) in milliseconds for the time left in the scrape."""
    budget = NO_DEADLINE_STATEMENT_TIMEOUT if left is None else max(0.01, left - DEADLINE_MARGIN)
    # PostgreSQL takes at most INT_MAX milliseconds; a non-finite budget means "none given"
    statement_ms = max(1, min(MAX_TIMEOUT_MS, int(budget * 1000))) if math.isfinite(budget) else MAX_TIMEOUT_MS
    return statement_ms, max(1, min(statement_ms, int(MAX_LOCK_TIMEOUT * 1000)))


class _Float4Loader(Loader):
    """float4 as lib/pq reads it: parsed at 32 bits, then widened (1.1 -> 1.100000023841858)."""

    def load(self, data: Any) -> float:
        return float(struct.unpack("f", struct.pack("f", float(bytes(data))))[0])


class _LenientTextLoader(Loader):
    def load(self, data: Any) -> str:
        return bytes(data).decode("utf-8", "replace")


class _LenientTimeLoader(Loader):
    """A timestamp psycopg cannot represent (``infinity``, BC, year 10000+) stays text, as
    lib/pq leaves it; any other goes through the fast loader."""

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._fast = psycopg.adapters.get_loader(oid, pq.Format.TEXT)(oid, context)  # type: ignore[misc]

    def load(self, data: Any) -> Any:
        try:
            return self._fast.load(data)
        except (psycopg.DataError, ValueError, OverflowError):
            return bytes(data).decode("utf-8", "replace")


def _adapters(lenient: bool) -> AdaptersMap:
    adapters = AdaptersMap(psycopg.adapters)
    for oid in _TEXT_OIDS:
        adapters.register_loader(oid, TextLoader)
    for info in psycopg.adapters.types:
        if info.array_oid:
            adapters.register_loader(info.array_oid, TextLoader)
    adapters.register_loader(_FLOAT4, _Float4Loader)
    if lenient:
        for oid in (0, 25, 1043, 1042, 19, 18, 705, 1700, 1186):
            adapters.register_loader(oid, _LenientTextLoader)
        for info in psycopg.adapters.types:
            if info.array_oid:
                adapters.register_loader(info.array_oid, _LenientTextLoader)
        for oid in _TIME_OIDS:
            adapters.register_loader(oid, _LenientTimeLoader)
    return adapters


class _Context:
    """An adaptation context: the lib/pq-like loaders, UTF-8."""

    def __init__(self, adapters: AdaptersMap) -> None:
        self.adapters = adapters
        self.connection = None


@lru_cache(maxsize=2)
def _context(lenient: bool) -> _Context:
    return _Context(_adapters(lenient))


def _load(result: pq.abc.PGresult, rows: int) -> list[tuple[Any, ...]]:
    tx = Transformer(_context(False))
    tx.set_pgresult(result)
    try:
        return tx.load_rows(0, rows, tuple)
    except (psycopg.DataError, UnicodeDecodeError, ValueError, OverflowError):
        # invalid UTF-8 (SQL_ASCII), an infinite timestamp...: the slow, tolerant way
        tx = Transformer(_context(True))
        tx.set_pgresult(result)
        return tx.load_rows(0, rows, tuple)


def _columns(result: pq.abc.PGresult) -> list[str]:
    return [(result.fname(i) or b"").decode("utf-8", "replace") for i in range(result.nfields)]


def _error(result: pq.abc.PGresult | None, fallback: str) -> tuple[str, str]:
    if result is None:
        return fallback, ""
    message = (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or result.error_message or b"").decode(
        "utf-8", "replace")
    state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode("ascii", "replace")
    return " ".join(message.split()) or fallback, state


class _Reader:
    """Collects one statement's results: chunks within the row budget, or the error."""

    def __init__(self, budget: RowBudget | None) -> None:
        self.budget = budget
        self.result = Result()
        self.kept = 0

    def add(self, res: pq.abc.PGresult) -> None:
        status = res.status
        if status in (_EXEC.TUPLES_OK, _EXEC.TUPLES_CHUNK, _EXEC.SINGLE_TUPLE):
            if not self.result.columns and res.nfields:
                self.result.columns = _columns(res)
            count = res.ntuples
            room = count
            if self.budget is not None:
                room = max(0, min(count, self.budget.per_statement - self.kept, self.budget.total))
                self.budget.total -= room
            if room:
                self.result.rows.extend(_load(res, room))
                self.kept += room
            self.result.dropped_rows += count - room
        elif status in (_EXEC.COMMAND_OK, _EXEC.EMPTY_QUERY):
            pass
        elif status == _EXEC.PIPELINE_ABORTED:
            self.result.error = self.result.error or "not run: an earlier command of its batch failed"
        else:
            if not self.result.error:
                self.result.error, self.result.sqlstate = _error(res, "statement failed")


class Target:
    """A PostgreSQL server (one DSN) and its connection, opened on demand."""

    def __init__(
        self,
        dsn: Dsn,
        logger: logging.Logger,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        application_name: str = APPLICATION_NAME,
        params: dict[str, str] | None = None,
    ) -> None:
        self.dsn = dsn
        self.logger = logger
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        # extra libpq parameters (the probe's credential guards)
        self.extra_params = dict(params or {})
        # scrapes of one target take turns on its connection
        self.lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        # statements that hold several commands: run with the simple protocol
        self._multi: set[str] = set()
        # the connection has answered a run since it was opened
        self._proven = False
        self.last_used = 0.0

    @property
    def server(self) -> str:
        return self.dsn.server

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; nothing to do
                pass

    def _connect(self, deadline: float | None) -> psycopg.Connection[Any]:
        timeout = self.connect_timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise ConnectError("scrape deadline passed before connecting")
        if self.dsn.error:
            raise ConnectError(self.dsn.error)
        params = dict(self.dsn.params)
        params.update(self.extra_params)
        params.setdefault("application_name", self.application_name)
        # as lib/pq: UTF8 (a SQL_ASCII database is switched to its own bytes below)
        params.setdefault("client_encoding", "UTF8")
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
            raise ConnectError(self.dsn.redact(one_line(err))) from None
        ascii_only = conn.pgconn.parameter_status(b"server_encoding") == b"SQL_ASCII"
        if ascii_only and "client_encoding" not in self.dsn.params:
            # the server would refuse to send such a database's non-UTF-8 bytes as UTF8; as
            # they are, they are decoded with replacement characters (see the loaders)
            conn.pgconn.exec_(b"SET client_encoding TO 'SQL_ASCII'")
        self.logger.debug("established new database connection", extra={"target": self.dsn.display()})
        return conn

    def connection(self, deadline: float | None) -> psycopg.Connection[Any]:
        """The connection, opened if there is none or it broke."""
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self.close()
        if self._conn is None:
            self._conn = self._connect(deadline)
            self._proven = False
        return self._conn

    def version(self, deadline: float | None) -> tuple[int, int, int]:
        return server_version_tuple(self.connection(deadline).info.server_version)

    # -- running statements ----------------------------------------------------------

    def run(
        self, statements: Sequence[Statement], deadline: float | None, budget: RowBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> list[Result]:
        """Run ``statements`` in order, each its own transaction; one result each.

        Call with ``self.lock`` held. A connection that went away since the last scrape
        (server restart) is re-established once; a run cut by the deadline closes the
        connection, whose server-side statement then ends at its ``statement_timeout``.
        """
        self.last_used = clock()
        conn = self.connection(deadline)
        fresh = not self._proven
        try:
            results = self._run(conn, statements, deadline, budget, clock)
            self._proven = True
            return results
        except DeadlineExceeded:
            self.close()
            raise
        except psycopg.OperationalError as err:
            self.close()
            if fresh:
                raise ConnectError(self.dsn.redact(one_line(err))) from None
        self.logger.info("database connection lost, reconnecting", extra={"target": self.dsn.display()})
        conn = self.connection(deadline)
        try:
            return self._run(conn, statements, deadline, budget, clock)
        except psycopg.OperationalError as err:
            self.close()
            raise ConnectError(self.dsn.redact(one_line(err))) from None
        except DeadlineExceeded:
            self.close()
            raise

    def _run(
        self, conn: psycopg.Connection[Any], statements: Sequence[Statement], deadline: float | None,
        budget: RowBudget | None, clock: Callable[[], float],
    ) -> list[Result]:
        left = None if deadline is None else deadline - clock()
        if left is not None and left <= 0.01:
            raise DeadlineExceeded("scrape deadline passed before the first statement")
        statement_ms, lock_ms = timeout_settings(left)
        pgconn = conn.pgconn
        # (statement index or -1 for a mode switch, text, params)
        batch: list[tuple[int, bytes, list[bytes | None]]] = [(
            -1, b"SELECT pg_catalog.set_config('statement_timeout', $1, false)",
            [f"{statement_ms}ms".encode()])]
        read_only = False
        simple: list[int] = []
        for i, st in enumerate(statements):
            if st.sql in self._multi:
                simple.append(i)
                continue
            if st.read_only != read_only:
                batch.append(_mode_switch(st.read_only, lock_ms))
                read_only = st.read_only
            batch.append((i, st.sql.encode("utf-8"), [None if p is None else p.encode("utf-8") for p in st.params]))
        if read_only:
            batch.append(_mode_switch(False, lock_ms))
        results = [Result() for _ in statements]
        self._pipeline(pgconn, batch, results, deadline, budget, clock)
        for i, st in enumerate(statements):
            if MULTIPLE_COMMANDS in results[i].error and not st.read_only:
                # upstream's driver runs such a string with the simple protocol
                self._multi.add(st.sql)
                simple.append(i)
        for i in sorted(simple):
            results[i] = self._simple(pgconn, statements[i].sql, deadline, budget, clock)
        return results

    def _pipeline(
        self, pgconn: pq.abc.PGconn, batch: list[tuple[int, bytes, list[bytes | None]]], results: list[Result],
        deadline: float | None, budget: RowBudget | None, clock: Callable[[], float],
    ) -> None:
        pgconn.enter_pipeline_mode()
        try:
            for _, sql, params in batch:
                pgconn.send_query_params(sql, params)
                _chunked(pgconn)
                pgconn.pipeline_sync()
            _flush(pgconn, deadline, clock)
            previous = clock()
            for index, _, _ in batch:
                reader = _Reader(budget if index >= 0 else None)
                while True:
                    res = _next_result(pgconn, deadline, clock)
                    if res is None:
                        break
                    reader.add(res)
                sync = _next_result(pgconn, deadline, clock)
                if sync is None or sync.status != _EXEC.PIPELINE_SYNC:
                    raise psycopg.OperationalError("pipeline out of step")
                now = clock()
                if index >= 0:
                    reader.result.seconds = now - previous
                    results[index] = reader.result
                elif reader.result.error:
                    raise psycopg.OperationalError(f"setting the scrape's timeouts failed: {reader.result.error}")
                previous = now
        finally:
            if pgconn.status == pq.ConnStatus.OK and pgconn.pipeline_status != pq.PipelineStatus.OFF:
                try:
                    pgconn.exit_pipeline_mode()
                except psycopg.Error:
                    pass

    def _simple(
        self, pgconn: pq.abc.PGconn, sql: str, deadline: float | None, budget: RowBudget | None,
        clock: Callable[[], float],
    ) -> Result:
        """Several commands in one string, as lib/pq runs them: one implicit transaction,
        the rows of the first command that returns rows."""
        begin = clock()
        pgconn.send_query(sql.encode("utf-8"))
        _chunked(pgconn)
        _flush(pgconn, deadline, clock)
        reader = _Reader(budget)
        first: Result | None = None
        while True:
            res = _next_result(pgconn, deadline, clock)
            if res is None:
                break
            if res.status == _EXEC.TUPLES_OK and first is None:
                reader.add(res)
                first = reader.result
                reader = _Reader(None)
            elif res.status == _EXEC.TUPLES_CHUNK and first is None:
                reader.add(res)
            elif res.status not in (_EXEC.TUPLES_OK, _EXEC.TUPLES_CHUNK, _EXEC.COMMAND_OK):
                reader.add(res)
                if first is not None:
                    first.error = first.error or reader.result.error
        result = first if first is not None else reader.result
        result.seconds = clock() - begin
        return result


def _mode_switch(read_only: bool, lock_ms: int) -> tuple[int, bytes, list[bytes | None]]:
    if read_only:
        return (-1, b"SELECT pg_catalog.set_config('default_transaction_read_only', 'on', false), "
                    b"pg_catalog.set_config('lock_timeout', $1, false)", [f"{lock_ms}ms".encode()])
    return (-1, b"SELECT pg_catalog.set_config(name, reset_val, false) FROM pg_catalog.pg_settings "
                b"WHERE name IN ('default_transaction_read_only', 'lock_timeout')", [])


def _chunked(pgconn: pq.abc.PGconn) -> None:
    try:
        pgconn.set_chunked_rows_mode(CHUNK_ROWS)
    except psycopg.NotSupportedError:
        pass  # libpq < 17: whole results, still cut to the row budget


def _wait(pgconn: pq.abc.PGconn, write: bool, deadline: float | None, clock: Callable[[], float]) -> None:
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | (select.POLLOUT if write else 0))
    timeout_ms = None
    if deadline is not None:
        left = deadline - clock()
        if left <= 0:
            raise DeadlineExceeded("scrape deadline passed while waiting for the server")
        timeout_ms = max(1, min(MAX_TIMEOUT_MS, int(left * 1000))) if math.isfinite(left) else None
    if not poller.poll(timeout_ms) and deadline is not None and deadline <= clock():
        raise DeadlineExceeded("scrape deadline passed while waiting for the server")


def _flush(pgconn: pq.abc.PGconn, deadline: float | None, clock: Callable[[], float]) -> None:
    while pgconn.flush() == 1:
        _wait(pgconn, True, deadline, clock)
        pgconn.consume_input()


def _next_result(pgconn: pq.abc.PGconn, deadline: float | None, clock: Callable[[], float]) -> pq.abc.PGresult | None:
    while pgconn.is_busy():
        _wait(pgconn, False, deadline, clock)
        pgconn.consume_input()
    return pgconn.get_result()
