"""/probe's parts without a server: where libpq connects, the policy, the bounded pool."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from exporters.core.targets import TargetAllowlist
from exporters.postgres.config import AuthModule
from exporters.postgres.connection import DeadlineExceeded, Target
from exporters.postgres.dsn import Dsn
from exporters.postgres.endpoints import EndpointError, endpoints
from exporters.postgres.probe import ProbePolicy, ProbePool, ProbeRefused

LOG = logging.getLogger("exporters.test.postgres.probe")


def where(text: str, env: dict[str, str] | None = None) -> list[str]:
    return [str(e) for e in endpoints(Dsn.parse(text).params, env or {})]


def test_endpoints_follow_libpq(tmp_path: Path) -> None:
    assert where("postgresql://u@DB.example:6000/x") == ["db.example:6000"]
    assert where("host=db hostaddr=10.0.0.7 port=5433") == ["10.0.0.7:5433"], "hostaddr is what is dialled"
    assert where("host=a,b port=1,2") == ["a:1", "b:2"]
    assert where("host=a,b port=7") == ["a:7", "b:7"]
    assert where("postgresql://a:1,[::1]:2/db") == ["a:1", "[::1]:2"]
    assert where("host=/run/pg port=5444") == ["unix:/run/pg/.s.PGSQL.5444"]
    assert where("dbname=x") == ["unix:/var/run/postgresql/.s.PGSQL.5432"], "no host: libpq's socket"
    assert where("dbname=x", {"PGHOST": "envhost", "PGPORT": "7"}) == ["envhost:7"]
    services = tmp_path / "services.conf"
    services.write_text("[prod]\nhost=prod.internal\nport=6432\n")
    assert where("service=prod dbname=x", {"PGSERVICEFILE": str(services)}) == ["prod.internal:6432"]
    assert where("service=prod host=override", {"PGSERVICEFILE": str(services)}) == ["override:6432"]
    for bad in ("host=a port=x", "host=a,b port=1,2,3", "host=a,b,c hostaddr=1.1.1.1,2.2.2.2", "port=99999"):
        with pytest.raises(EndpointError):
            where(bad)
    with pytest.raises(EndpointError, match="service"):
        where("service=nope", {"PGSERVICEFILE": str(services)})


MODULE = AuthModule("userpass", "monitor", "secret")


NO_MODULE = AuthModule()


def check(policy: ProbePolicy, target: str, module: AuthModule = NO_MODULE) -> tuple[Dsn, dict[str, str]]:
    return policy.check(target, "m" if module.password else "", module, LOG)


def test_policy_without_an_allowlist_keeps_the_exporters_credentials_home() -> None:
    open_policy = ProbePolicy(TargetAllowlist(), env={})
    for target, module in [("db.example:5432/x", MODULE), ("host=/tmp dbname=x", AuthModule()),
                           ("host=db passfile=/etc/exporter/pgpass", AuthModule()),
                           ("host=db sslkey=/etc/exporter/client.key", AuthModule())]:
        with pytest.raises(ProbeRefused) as err:
            check(open_policy, target, module)
        assert err.value.status == 403 and "--probe.allowed-targets" in str(err.value)
    dsn, extra = check(open_policy, "postgresql://u:own@db.example/x")
    assert dsn.password == "own" and "password" not in extra
    assert extra["passfile"].startswith("/nonexistent") and extra["gssencmode"] == "disable"
    _, extra = check(open_policy, "db.example:5432/x")
    assert extra["password"] == "", "PGPASSWORD is not offered"
    anywhere = ProbePolicy(TargetAllowlist(), send_credentials_anywhere=True, env={})
    assert check(anywhere, "db.example:5432/x", MODULE) == (MODULE.configure("db.example:5432/x"), {})


def test_policy_with_an_allowlist_checks_every_address() -> None:
    listed = ProbePolicy(TargetAllowlist.parse("db.example:5432,unix:/run/postgresql/*"), env={})
    assert check(listed, "db.example:5432/x", MODULE)[1] == {}
    assert check(listed, "host=/run/postgresql dbname=x", MODULE)[1] == {}
    for target in ("host=db.example hostaddr=10.9.9.9 port=5432", "host=db.example,evil.example port=5432",
                   "host=db.example port=5433", "host=/tmp dbname=x"):
        with pytest.raises(ProbeRefused) as err:
            check(listed, target, MODULE)
        assert err.value.status == 403
    with pytest.raises(ProbeRefused) as err:
        check(listed, "host=db.example port=nope", MODULE)
    assert err.value.status == 400


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def made(key: str) -> Target:
    return Target(Dsn.parse(f"host=h dbname={key}"), LOG)


def test_pool_reuses_bounds_and_closes_idle_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Target, "connected", property(lambda self: True))
    clock = Clock()
    pool = ProbePool(2, idle_seconds=10, logger=LOG, clock=clock)
    pool._start_reaper = lambda: None  # type: ignore[method-assign]  # the test reaps by hand
    a = pool.acquire("a", lambda: made("a"), None)
    pool.release("a", a)
    assert pool.acquire("a", lambda: made("other"), None) is a, "an idle connection is reused"
    b = pool.acquire("b", lambda: made("b"), None)
    assert pool.open == 2
    with pytest.raises(DeadlineExceeded):
        pool.acquire("c", lambda: made("c"), clock.now)  # both busy, no time left
    freed = threading.Timer(0.05, lambda: pool.release("a", a))
    freed.start()
    c = pool.acquire("c", lambda: made("c"), None)  # the idle "a" is closed for "c"
    freed.join()
    assert c is not a and pool.open == 2
    pool.release("b", b)
    pool.release("c", c)
    clock.now += 9.9
    assert pool.reap() == 0
    clock.now += 0.2
    assert pool.reap() == 2 and pool.open == 0
    pool.close()
