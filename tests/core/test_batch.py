"""StallingBatch: one worker, more only when it stalls; calls past their timeout written off."""

from __future__ import annotations

import threading

import pytest

from exporters.core.batch import Call, DaemonPool, StallingBatch


class Gate:
    """Items that block until released, recording which ones started."""

    def __init__(self, blocking: set[int]) -> None:
        self.blocking = blocking
        self.release = threading.Event()
        self.started: list[int] = []

    def __call__(self, item: int) -> int:
        self.started.append(item)
        if item in self.blocking:
            self.release.wait(30)
        return item * 10


@pytest.fixture
def pool() -> DaemonPool:
    return DaemonPool("test")


@pytest.mark.timeout(30)
def test_items_finish_in_order_on_one_worker_without_stalls(pool: DaemonPool) -> None:
    gate = Gate(set())
    calls = StallingBatch(list(range(5)), gate, pool, stall=60.0).run()
    assert [c.result for c in calls if c is not None] == [0, 10, 20, 30, 40]
    assert gate.started == [0, 1, 2, 3, 4]
    assert pool.started == 1
    pool.close()


@pytest.mark.timeout(30)
def test_a_stall_adds_a_worker_for_the_items_behind_it(pool: DaemonPool) -> None:
    gate = Gate({1})
    timed_out: list[int] = []
    batch = StallingBatch(list(range(4)), gate, pool, stall=0.01, item_timeout=0.5,
                          on_timeout=lambda call: timed_out.append(call.item))
    calls = batch.run()
    gate.release.set()
    assert [c.done for c in calls if c is not None] == [True, False, True, True]
    assert calls[1] is not None and calls[1].timed_out and timed_out == [1]
    pool.close()


@pytest.mark.timeout(30)
def test_max_workers_bounds_the_helpers(pool: DaemonPool) -> None:
    gate = Gate({0, 1, 2})
    calls = StallingBatch(list(range(4)), gate, pool, stall=0.01, max_workers=2, item_timeout=0.3).run()
    gate.release.set()
    # two workers hung on 0 and 1, written off at the timeout; then two more took 2 and 3
    assert [c is not None and c.timed_out for c in calls] == [True, True, True, False]
    assert calls[3] is not None and calls[3].result == 30
    pool.close()


@pytest.mark.timeout(30)
def test_deadline_leaves_unstarted_items_unstarted(pool: DaemonPool) -> None:
    now = [0.0]
    gate = Gate({0})
    batch: StallingBatch[int] = StallingBatch([0, 1], gate, pool, stall=0.01, max_workers=1, clock=lambda: now[0])

    def expire() -> None:
        while not gate.started:
            threading.Event().wait(0.001)
        now[0] = 100.0

    threading.Thread(target=expire, daemon=True).start()
    calls = batch.run(deadline=50.0)
    gate.release.set()
    first, second = calls
    assert isinstance(first, Call) and not first.done and not first.timed_out
    assert second is None
    pool.close()


@pytest.mark.timeout(30)
def test_an_exception_is_the_calls_error(pool: DaemonPool) -> None:
    def work(item: int) -> int:
        raise OSError(f"item {item}")

    calls = StallingBatch([7], work, pool, stall=60.0).run()
    assert calls[0] is not None and isinstance(calls[0].error, OSError) and calls[0].done
    pool.close()
