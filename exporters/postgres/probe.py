"""``/probe?target=...&auth_module=...``: one target's metrics, safely.

Credentials go only to targets the operator named. What libpq will really connect to is
worked out first (``endpoints.py``: every keyword, ``hostaddr``, unix sockets, service
files, the environment):

- with ``--probe.allowed-targets``, every such endpoint must match it (``core/targets.py``);
- without it, a probe that would carry the exporter's own credentials is refused: an
  auth_module's username and password, the exporter's OS identity (a unix socket), or a
  file of the exporter's host named by the target (``passfile``, ``service``, ``sslkey``...).
  Other targets are probed as upstream probes them, with their own credentials only:
  ``PGPASSWORD``, ``~/.pgpass``, client certificates and Kerberos tickets of the exporter
  are not offered. ``--probe.send-credentials-to-any-target`` restores upstream's
  behaviour (any target gets them); the refusal's log line names both flags.

Connections: upstream opens and closes them for every probe. Here at most
``--probe.max-connections`` are open at once (all targets together), an idle one is reused
by the next probe of the same target and closed after ``--probe.idle-timeout``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from psycopg import pq

from exporters.core.app import HTTPError, Request
from exporters.core.collector import CollectorSpec
from exporters.core.metrics import Metric
from exporters.core.targets import Endpoint, TargetAllowlist
from exporters.postgres.collectors import CollectorConfig
from exporters.postgres.config import AuthModule
from exporters.postgres.connection import DeadlineExceeded, Target
from exporters.postgres.dsn import Dsn
from exporters.postgres.endpoints import EndpointError, endpoints
from exporters.postgres.exporter import Options, PostgresExporter, QueriesState

ALLOW_FLAG = "--probe.allowed-targets"
UNSAFE_FLAG = "--probe.send-credentials-to-any-target"
DEFAULT_MAX_CONNECTIONS = 10
DEFAULT_IDLE_SECONDS = 10.0
# libpq parameters with which a target would make libpq read a file of the exporter's host
LOCAL_FILES = ("passfile", "service", "servicefile", "sslkey", "sslcert", "sslpassword", "sslcrl", "sslcrldir")
NOWHERE = "/nonexistent/postgres-exporter-probe"


class ProbeRefused(Exception):
    """The request cannot be probed: ``status`` 400 (malformed) or 403 (not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _without_local_credentials() -> dict[str, str]:
    """libpq parameters that keep the exporter's own credentials out of a connection."""
    params = {"passfile": NOWHERE, "sslcert": NOWHERE, "sslkey": NOWHERE, "gssencmode": "disable"}
    if pq.version() >= 160000:
        params["require_auth"] = "!gss,!sspi"  # no Kerberos ticket of the exporter
    return params


@dataclass(frozen=True)
class ProbePolicy:
    """Which probes may run, and with which extra libpq parameters."""

    allowlist: TargetAllowlist
    send_credentials_anywhere: bool = False
    env: Mapping[str, str] | None = None

    def check(
        self, target: str, module_name: str, module: AuthModule, logger: logging.Logger
    ) -> tuple[Dsn, dict[str, str]]:
        """The DSN to connect with and the extra libpq parameters; ``ProbeRefused`` if not allowed."""
        try:
            given = Dsn.parse(target, "probe target")
            dsn = module.configure(target)
            found = endpoints(dsn.params, self.env)
        except (ValueError, EndpointError) as err:
            raise ProbeRefused(400, f"could not configure dsn for target: {err}") from None
        shown = ", ".join(str(e) for e in found)
        if self.allowlist:
            refused = self.allowlist.refused(found)
            if refused:
                logger.warning(f"probe refused: {', '.join(map(str, refused))} not named by {ALLOW_FLAG}",
                               extra={"target": dsn.display()})
                raise ProbeRefused(403, f"target {shown} is not allowed by {ALLOW_FLAG}")
            return dsn, {}
        if self.send_credentials_anywhere:
            return dsn, {}
        reasons = self._credentials(given, module_name, module, found)
        if reasons:
            logger.warning(f"probe refused: {' and '.join(reasons)} would go to {shown}, which no allowlist names; "
                           f"name the targets with {ALLOW_FLAG}, or set {UNSAFE_FLAG} for upstream's behaviour",
                           extra={"target": dsn.display()})
            raise ProbeRefused(403, f"target {shown} is not allowed: set {ALLOW_FLAG}")
        extra = {k: v for k, v in _without_local_credentials().items() if k not in dsn.params}
        if "password" not in dsn.params:
            extra["password"] = ""  # not PGPASSWORD
        return dsn, extra

    @staticmethod
    def _credentials(given: Dsn, module_name: str, module: AuthModule, found: Sequence[Endpoint]) -> list[str]:
        reasons = []
        if module.username or module.password:
            reasons.append(f"the credentials of auth_module {module_name}")
        if any(e.is_unix for e in found):
            reasons.append("the exporter's OS user (a unix socket)")
        local = [k for k in LOCAL_FILES if given.params.get(k)]
        if local:
            reasons.append(f"files of the exporter's host ({', '.join(local)})")
        return reasons


class ProbePool:
    """At most ``size`` probe connections open; idle ones reused per target, then closed."""

    def __init__(self, size: int, idle_seconds: float, logger: logging.Logger,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = max(1, size)
        self.idle_seconds = idle_seconds
        self.logger = logger
        self.clock = clock
        self._idle: dict[str, list[tuple[float, Target]]] = {}
        self._open = 0
        self._cond = threading.Condition()
        self._closed = False
        self._reaper: threading.Thread | None = None

    @property
    def open(self) -> int:
        with self._cond:
            return self._open

    def acquire(self, key: str, make: Callable[[], Target], deadline: float | None) -> Target:
        """An idle connection of this target, a new one, or the first freed; waits until the deadline."""
        while True:
            victim: Target | None = None
            with self._cond:
                idle = self._idle.get(key)
                if idle:
                    return idle.pop()[1]
                if self._open < self.size:
                    self._open += 1
                    self._start_reaper()
                    return make()
                oldest = min(((when, k) for k, v in self._idle.items() for when, _ in v[:1]), default=None)
                if oldest is not None:
                    victim = self._idle[oldest[1]].pop(0)[1]
                    self._open -= 1
                else:
                    left = None if deadline is None else deadline - self.clock()
                    if left is not None and left <= 0:
                        raise DeadlineExceeded(f"all {self.size} probe connections are busy")
                    self._cond.wait(left)
            if victim is not None:
                _close(victim)

    def release(self, key: str, target: Target) -> None:
        with self._cond:
            if target.connected and not self._closed:
                self._idle.setdefault(key, []).append((self.clock(), target))
                target = None  # type: ignore[assignment]
            else:
                self._open -= 1
            self._cond.notify()
        if target is not None:
            _close(target)

    def reap(self) -> int:
        """Close the connections idle for longer than ``idle_seconds``; how many were closed."""
        expired: list[Target] = []
        with self._cond:
            now = self.clock()
            for key in list(self._idle):
                keep = [(when, t) for when, t in self._idle[key] if now - when < self.idle_seconds]
                expired += [t for when, t in self._idle[key] if now - when >= self.idle_seconds]
                if keep:
                    self._idle[key] = keep
                else:
                    del self._idle[key]
            self._open -= len(expired)
            self._cond.notify_all()
        for target in expired:
            _close(target)
        return len(expired)

    def _start_reaper(self) -> None:
        if self._reaper is None and self.idle_seconds > 0:
            self._reaper = threading.Thread(target=self._reap_loop, name="pg-probe-reaper", daemon=True)
            self._reaper.start()

    def _reap_loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(max(0.05, self.idle_seconds / 4))
            self.reap()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle = [t for v in self._idle.values() for _, t in v]
            self._open -= len(idle)
            self._idle.clear()
            self._cond.notify_all()
        for target in idle:
            _close(target)


def _close(target: Target) -> None:
    with target.lock:
        target.close()


class ProbeHandler:
    """``/probe``: checks the request (``ProbePolicy``), then scrapes on a pooled connection.
    Each probe is a fresh exporter, as upstream's: its ``pg_exporter_*`` count this probe."""

    def __init__(
        self,
        modules: Callable[[str], AuthModule | None],
        options: Options,
        queries: QueriesState | None,
        specs: Sequence[CollectorSpec[CollectorConfig]],
        policy: ProbePolicy,
        pool: ProbePool,
        logger: logging.Logger,
    ) -> None:
        self.modules = modules
        # no discovery under /probe: its connections would be outside the pool's bound
        self.options = replace(options, auto_discover_databases=False)
        self.queries = queries
        self.specs = specs
        self.policy = policy
        self.pool = pool
        self.logger = logger

    def probe(self, target: str, module_name: str, deadline: float | None) -> list[Metric]:
        if not target:
            raise ProbeRefused(400, "target is required")
        module = AuthModule()
        if module_name:
            found = self.modules(module_name)
            if found is None:
                raise ProbeRefused(400, f"auth_module {module_name} not found")
            if not found.username or not found.password:
                raise ProbeRefused(400, f"auth_module {module_name} has no username or password")
            module = found
        dsn, extra = self.policy.check(target, module_name, module, self.logger)
        key = dsn.with_params(**extra).conninfo()
        exporter = PostgresExporter([], self.options, self.queries, self.specs, self.logger)
        try:
            pooled = self.pool.acquire(key, lambda: Target(dsn, self.logger, self.options.connect_timeout,
                                                          params=extra), deadline)
        except DeadlineExceeded as err:
            self.logger.error("probe got no connection", extra={"target": dsn.display(), "err": str(err)})
            return exporter.collect(deadline)  # no target: pg_up 0
        exporter.targets = [pooled]
        try:
            return exporter.collect(deadline)
        finally:
            self.pool.release(key, pooled)

    def __call__(self, request: Request) -> Iterable[Metric]:
        try:
            return self.probe(request.param("target"), request.param("auth_module"), request.deadline)
        except ProbeRefused as err:
            raise HTTPError(err.status, str(err)) from None

    def close(self) -> None:
        self.pool.close()
