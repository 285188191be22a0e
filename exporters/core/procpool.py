"""A pool of worker processes that collect and render scrapes (``--scrape.processes N``).

One Python process runs one thread of Python at a time (the GIL): a multi-target endpoint
scraped by many Prometheus jobs at once is then bound to one core. With the pool, each
request is sent to one of N worker processes, which collects and renders it; the main
process keeps the HTTP server, the request limit, ``--scrape.share``, gzip and the
exporter's own metrics.

Workers are started lazily, when a request first needs one (an exporter whose pooled
endpoint is never asked for starts none), with ``subprocess`` rather than
``multiprocessing``: a worker is ``python -c`` importing this module, given one end of a
socket pair; it builds its handler from ``init`` (a ``module:function`` name and its
arguments, the exporter parsing its command line again) and then answers pickled requests,
one at a time, each framed by its length. A request's worker that dies or does not answer
by the request's deadline (plus a grace) is killed: that request gets an error, the next
one starts a fresh worker, the others are untouched. A worker whose parent is gone reads
end-of-file and exits.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_HEADER = struct.Struct("!I")
# a reply larger than this is refused (a worker's replies are bounded by --scrape.max-series)
MAX_FRAME_BYTES = 1 << 30
# how long past a request's deadline the main process waits for its worker's answer
GRACE_SECONDS = 2.0
# how long a stopping worker may take before it is killed
STOP_SECONDS = 2.0


class WorkerError(Exception):
    """The worker of a request died, hung or answered garbage; it has been replaced."""


def _send(sock: socket.socket, payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("worker connection closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _recv(sock: socket.socket) -> Any:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise EOFError(f"frame of {size} bytes")
    return pickle.loads(_recv_exact(sock, size))


def _resolve(name: str) -> Callable[..., Any]:
    import importlib

    module, _, attr = name.partition(":")
    func: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return func


def worker_main(fd: int) -> None:
    """A worker's life: read ``(init, args)``, build the handler, answer requests until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the main process stops us
    sock = socket.socket(fileno=fd)
    try:
        init, args = _recv(sock)
        handler = _resolve(init)(*args)
    except EOFError:
        return
    import gc

    gc.freeze()  # as the main process does after start-up
    while True:
        try:
            request = _recv(sock)
        except (EOFError, OSError):
            return
        _send(sock, handler(request))


@dataclass(eq=False)  # by identity: workers live in a set
class _Worker:
    process: subprocess.Popen[bytes]
    sock: socket.socket

    def stop(self, kill: bool = False) -> None:
        self.sock.close()  # an idle worker reads EOF and exits
        if kill:
            self.process.kill()
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ProcessPool:
    """Up to ``size`` worker processes, each answering one request at a time.

    ``init`` names the function (``package.module:function``) a worker calls with ``args`` to
    build its handler: a picklable request in, a picklable reply out.
    """

    def __init__(self, size: int, init: str, args: tuple[Any, ...], logger: logging.Logger,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if size < 1:
            raise ValueError("a process pool needs at least one worker")
        self.size = size
        self.init = init
        self.args = args
        self.logger = logger
        self.clock = clock
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._count = 0  # live workers, idle or busy
        self._closed = False
        self._all: set[_Worker] = set()

    def pids(self) -> list[int]:
        with self._cond:
            return sorted(w.process.pid for w in self._all)

    def _start(self) -> _Worker:
        parent, child = socket.socketpair()
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        code = (f"import sys; sys.path.insert(0, {root!r}); "
                f"from exporters.core.procpool import worker_main; worker_main({child.fileno()})")
        try:
            process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(child.fileno(),),
                                       stdin=subprocess.DEVNULL)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        worker = _Worker(process, parent)
        try:
            _send(parent, (self.init, self.args))
        except OSError as err:
            worker.stop(kill=True)
            raise WorkerError(f"scrape worker {process.pid} failed at start: {err}") from None
        return worker

    def _acquire(self, deadline: float | None) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise WorkerError("the process pool is shut down")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.size:
                    self._count += 1
                    break
                remaining = None if deadline is None else deadline - self.clock()
                if remaining is not None and remaining <= 0:
                    raise WorkerError("no scrape worker became free before the deadline")
                self._cond.wait(remaining)
        try:
            worker = self._start()
        except Exception:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._all.add(worker)
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            keep = healthy and not self._closed
            if keep:
                self._idle.append(worker)
            else:
                self._count -= 1
                self._all.discard(worker)
            self._cond.notify()
        if not keep:
            worker.stop(kill=not healthy)

    def call(self, request: Any, deadline: float | None) -> Any:
        """``request``'s reply from a worker; ``WorkerError`` if the worker failed it.

        ``deadline`` (a ``clock`` instant) bounds the wait for a free worker; the answer
        may come ``GRACE_SECONDS`` after it before the worker counts as hung.
        """
        worker = self._acquire(deadline)
        healthy = False
        try:
            wait = None if deadline is None else max(deadline - self.clock(), 0.0) + GRACE_SECONDS
            worker.sock.settimeout(wait)
            _send(worker.sock, request)
            reply = _recv(worker.sock)
            healthy = True
            return reply
        except TimeoutError:
            raise WorkerError(f"scrape worker {worker.process.pid} did not answer in time; it is replaced") from None
        except (EOFError, OSError, pickle.UnpicklingError) as err:
            code = worker.process.poll()
            state = f"exited with {code}" if code is not None else f"failed: {err}"
            raise WorkerError(f"scrape worker {worker.process.pid} {state}; it is replaced") from None
        finally:
            self._release(worker, healthy)

    def close(self) -> None:
        """Stop every worker (at shutdown, after the in-flight requests)."""
        with self._cond:
            self._closed = True
            workers = list(self._all)
            self._idle = []
            self._cond.notify_all()
        for worker in workers:
            worker.stop()
