"""Run a batch of blocking calls on few threads: one worker, more only when it stalls.

Used by the collector runner (one batch of collectors per scrape) and by the node
filesystem collector (one statfs per mount). Under the GIL, running such calls side by side
is no faster than one after the other, and every thread hand-off costs CPU; but a call can
block for ever (a hung NFS mount, a wedged driver, an unanswering database). So one worker
takes the items in turn, and when no item has finished for ``stall`` seconds another
worker joins in (up to ``max_workers``). A call running longer than ``item_timeout`` is
written off: its worker no longer counts, the caller learns it timed out, and the call's
late result is dropped.

Workers are daemon threads from a ``DaemonPool``, started on demand and reused, so one
stuck in a call that never returns neither starves new work nor keeps the process from
exiting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class DaemonPool:
    """Worker threads started on demand and reused, as daemons.

    Unlike ``ThreadPoolExecutor``'s, whose threads the interpreter joins at exit, a worker
    stuck in a call that never returns (a hung NFS mount, a wedged sysfs driver) cannot
    keep the process from exiting on SIGTERM. There is no upper bound, so stuck workers
    cannot starve new work; each task runs as soon as it is submitted.
    """

    def __init__(self, name: str, logger: logging.Logger | None = None) -> None:
        self.name = name
        self.logger = logger or logging.getLogger("exporters")
        self._tasks: queue.SimpleQueue[tuple[Callable[..., object], tuple[object, ...]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0
        self._closed = False

    def submit(self, func: Callable[..., object], *args: object) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: pool is closed")
            self._tasks.put((func, args))
            if self._idle > 0:
                self._idle -= 1  # an idle worker takes it
                return
            self._started += 1
            number = self._started
        threading.Thread(target=self._work, name=f"{self.name}-{number}", daemon=True).start()

    @property
    def started(self) -> int:
        """How many worker threads this pool has started."""
        return self._started

    @property
    def idle(self) -> int:
        """How many workers wait for a task."""
        return self._idle

    def close(self) -> None:
        """Let idle workers exit; busy ones exit after their call."""
        with self._lock:
            self._closed = True
            for _ in range(self._started):
                self._tasks.put(None)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            func, args = task
            try:
                func(*args)
            except Exception as err:  # noqa: BLE001 - the worker must survive for the next task
                self.logger.error("worker task failed", extra={"worker": self.name,
                                                               "err": f"{type(err).__name__}: {err}"})
            with self._lock:
                self._idle += 1


@dataclass(eq=False)
class Call(Generic[T]):
    """One item's call: running, finished (``done``), or written off (``timed_out``)."""

    item: T
    started: float
    done: bool = False
    result: object = None
    error: Exception | None = None
    timed_out: bool = False


class StallingBatch(Generic[T]):
    """The items of one batch, run by ``work`` as described in the module docstring."""

    def __init__(
        self,
        items: Sequence[T],
        work: Callable[[T], object],
        pool: DaemonPool,
        *,
        stall: float,
        max_workers: int | None = None,
        item_timeout: float | None = None,
        on_timeout: Callable[[Call[T]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.work = work
        self.pool = pool
        self.stall = stall
        self.max_workers = max_workers
        self.item_timeout = item_timeout
        self.on_timeout = on_timeout
        self.clock = clock
        self._pending: deque[int] = deque(range(len(items)))
        self._items = list(items)
        self._calls: list[Call[T] | None] = [None] * len(items)
        self._running: list[Call[T]] = []
        self._finished = 0
        self._workers = 0
        self._stopped = False
        self._cond = threading.Condition()

    def _drain(self) -> None:
        cond = self._cond
        while True:
            with cond:
                if not self._pending or self._stopped:
                    self._workers -= 1
                    cond.notify_all()
                    return
                index = self._pending.popleft()
                call = Call(self._items[index], self.clock())
                self._calls[index] = call
                self._running.append(call)
            result: object = None
            error: Exception | None = None
            try:
                result = self.work(call.item)
            except Exception as err:  # noqa: BLE001 - handed to the caller with the call
                error = err
            with cond:
                call.result, call.error, call.done = result, error, True
                if call.timed_out:
                    return  # written off: this worker no longer counts for the batch
                self._running.remove(call)
                self._finished += 1
                cond.notify_all()

    def _add_worker(self) -> None:
        self._workers += 1
        self.pool.submit(self._drain)

    def run(self, deadline: float | None = None) -> list[Call[T] | None]:
        """Run the batch until every item finished or timed out, or ``deadline`` (a ``clock()`` instant).

        One entry per item, in item order: its ``Call`` (``done``, ``timed_out``, or neither
        when the deadline came first), or None when the item was never started.
        """
        cond = self._cond
        with cond:
            if self._pending:
                self._add_worker()
            seen = 0
            while self._pending or self._running:
                now = self.clock()
                waits = [self.stall]
                if deadline is not None:
                    if now >= deadline:
                        break
                    waits.append(deadline - now)
                if self.item_timeout is not None and self._running:
                    waits.append(min(c.started for c in self._running) + self.item_timeout - now)
                cond.wait(max(0.0, min(waits)))
                now = self.clock()
                if self.item_timeout is not None:
                    for call in [c for c in self._running if now - c.started >= self.item_timeout]:
                        call.timed_out = True
                        self._running.remove(call)
                        self._workers -= 1
                        if self.on_timeout is not None:
                            self.on_timeout(call)
                progressed = self._finished != seen
                seen = self._finished
                limit = self.max_workers is None or self._workers < self.max_workers
                if self._pending and (self._workers <= 0 or (not progressed and limit)):
                    self._add_worker()
            self._stopped = True  # workers still running finish their call, start no other
            return list(self._calls)
