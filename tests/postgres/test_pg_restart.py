"""pg_up across a server restart, on a private cluster (never the shared service)."""

from __future__ import annotations

import os

import pytest

from tests.postgres.conftest import PrivateCluster, scrape
from tests.postgres.expo import parse


@pytest.mark.timeout(120)
def test_pg_up_follows_a_restart_without_restarting_the_exporter(
    private_cluster: PrivateCluster, exporter_factory: object
) -> None:
    env = {k: "" for k in os.environ if k.startswith(("DATA_SOURCE_", "PG_EXPORTER_"))}
    env["DATA_SOURCE_NAME"] = private_cluster.dsn
    running = exporter_factory("postgres", [], env=env)  # type: ignore[operator]
    url = f"{running.url}/metrics"
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": "5"}

    fams = parse(scrape(url, headers=headers)[1])
    assert fams["pg_up"].value() == 1 and "pg_stat_database_xact_commit" in fams

    private_cluster.stop()
    status, body = scrape(url, headers=headers)
    assert status == 200
    assert parse(body)["pg_up"].value() == 0, "one scrape after the stop"

    private_cluster.start()
    status, body = scrape(url, headers=headers)
    fams = parse(body)
    assert status == 200 and fams["pg_up"].value() == 1, "one scrape after the start"
    assert all(v == 1 for v in fams["pg_scrape_collector_success"].values())
    assert running.proc.poll() is None
    assert "reconnecting" in running.log() or "established new database connection" in running.log()
