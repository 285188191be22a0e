"""The postgres exporter as a process: flags, bad input, pg_up 0, secrets, SIGHUP, /probe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port
from tests.postgres.conftest import ScratchDb, as_uri, scrape
from tests.postgres.expo import parse

SHIPPED = REPO / "queries" / "queries.yaml"
SECRET = "Sup3r-s3cret-pw"
GOOD_QUERIES = "pg_cli_one:\n  query: SELECT 1 AS v\n  metrics:\n    - v:\n        usage: GAUGE\n"
OTHER_QUERIES = "pg_cli_two:\n  query: SELECT 2 AS v\n  metrics:\n    - v:\n        usage: GAUGE\n"
BAD_QUERIES = "pg_cli_bad:\n  query: SELECT 1 AS v\n  metrics:\n    - v:\n        usage: GAUGES\n"


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DATA_SOURCE_", "PG_EXPORTER_"))}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "exporters.postgres", *args], capture_output=True, text=True,
                          env=full, cwd=REPO, timeout=timeout)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: "" for k in os.environ if k.startswith(("DATA_SOURCE_", "PG_EXPORTER_"))}
    env.update(extra)
    return env


@pytest.mark.timeout(30)
def test_dumpmaps_and_help() -> None:
    dumped = run(["--dumpmaps"])
    assert dumped.returncode == 0 and "pg_stat_activity >=9.2.0 SELECT" in dumped.stdout
    assert "  confl_deadlock" in dumped.stdout
    helped = run(["--help"])
    for flag in ("--extend.query-path", "--auto-discover-databases", "--include-databases", "--exclude-databases",
                 "--constantLabels", "--disable-default-metrics", "--disable-settings-metrics", "--config.file",
                 "--collector.stat_statements", "--web.telemetry-path", "--probe.allowed-targets"):
        assert flag in helped.stdout, flag


@pytest.mark.timeout(60)
def test_check_queries_mode(tmp_path: Path, scratch_db: ScratchDb) -> None:
    ok = run(["--check-queries", str(SHIPPED)])
    assert ok.returncode == 0 and "5 namespaces, 0 errors, 0 warnings" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_QUERIES + "pg_cli_extra:\n  query: SELECT 1 AS v\n  query_aurora: SELECT 2 AS v\n  metrics:\n"
                   "    - v:\n        usage: GAUGE\n")
    refused = run(["--check-queries", str(bad)])
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"{bad}:5: error: unknown usage 'GAUGES' for column 'v' of pg_cli_bad "
        "(one of DISCARD, LABEL, COUNTER, GAUGE, HISTOGRAM, MAPPEDMETRIC, DURATION)",
        f"{bad}:8: warning: unknown key 'query_aurora' in namespace 'pg_cli_extra' is ignored, as upstream ignores "
        "it (known: cache_seconds, master, metrics, query, runonserver)"]
    warned = tmp_path / "warned.yaml"
    warned.write_text(GOOD_QUERIES + GOOD_QUERIES)
    assert run(["--check-queries", str(warned)]).returncode == 0, "warnings alone pass"
    live = run(["--check-queries", str(SHIPPED)], env={"DATA_SOURCE_NAME": scratch_db.dsn})
    assert live.returncode == 0, live.stderr
    assert "pg_slow_query: " in live.stdout and "columns: datname, count, max_duration_seconds" in live.stdout
    missing = tmp_path / "missing.yaml"
    missing.write_text("pg_cli_m:\n  query: SELECT 1 AS a\n  metrics:\n    - b:\n        usage: GAUGE\n")
    failed = run(["--check-queries", str(missing)], env={"DATA_SOURCE_NAME": scratch_db.dsn})
    assert failed.returncode == 1
    assert f"{missing}:4: error: namespace pg_cli_m: column 'b' is not returned" in failed.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("pg_cli_b:\n  query: SELECT nope FROM nowhere\n  metrics:\n    - a:\n        usage: GAUGE\n")
    failed = run(["--check-queries", str(broken)], env={"DATA_SOURCE_NAME": scratch_db.dsn})
    assert failed.returncode == 1 and "query failed" in failed.stderr and "nowhere" in failed.stderr
    # a missing extension: the exporter would start and serve the rest, so only a warning
    extension = tmp_path / "extension.yaml"
    extension.write_text("pg_cli_e:\n  query: SELECT calls FROM pg_stat_statements\n  metrics:\n"
                         "    - calls:\n        usage: COUNTER\n")
    warned_only = run(["--check-queries", str(extension)], env={"DATA_SOURCE_NAME": scratch_db.dsn})
    assert warned_only.returncode == 0 and ": warning: namespace pg_cli_e: query failed" in warned_only.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--constantLabels", "a=b=c"], {}, "--constantLabels: 'a=b=c' is not label=value"),
        ([], {"PG_EXPORTER_DISABLE_DEFAULT_METRICS": "maybe"}, "PG_EXPORTER_DISABLE_DEFAULT_METRICS: 'maybe'"),
        (["--metric-prefix", "9x"], {}, "--metric-prefix"),
        ([], {"DATA_SOURCE_URI": "h/db", "DATA_SOURCE_PASS_FILE": "NOFILE"}, "failed loading data source pass file"),
    ],
)
def test_bad_input_refused_at_start(tmp_path: Path, args: list[str], env: dict[str, str], message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_QUERIES)
    config = tmp_path / "config.yml"
    config.write_text("auth_module:\n  x: {}\n")
    subst = {"BAD": str(bad), "NOFILE": str(tmp_path / "nope"), "BADCONFIG": str(config)}
    args = [subst.get(a, a) for a in args]
    env = {k: subst.get(v, v) for k, v in env.items()}
    done = run(["--web.listen-address", f"127.0.0.1:{free_port()}", *args], env=env)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.timeout(60)
def test_what_upstream_starts_with_starts(exporter_factory: object, tmp_path: Path) -> None:
    """A broken queries entry, an unreadable queries file, a malformed DATA_SOURCE_NAME, a bad
    --config.file: the Go binary starts and serves (load_error 1, pg_up 0, reload_successful 0);
    so does ours, with the error logged."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_QUERIES + GOOD_QUERIES)
    running = exporter_factory("postgres", ["--extend.query-path", str(bad)],  # type: ignore[operator]
                               env=clean_env(DATA_SOURCE_NAME=f"host=h password='{SECRET}"))
    fams = parse(scrape(f"{running.url}/metrics")[1])
    assert fams["pg_up"].value() == 0 and fams["pg_exporter_user_queries_load_error"].value() == 1
    assert "unknown usage 'GAUGES'" in running.log() and "could not parse DATA_SOURCE_NAME entry 1" in running.log()
    assert SECRET not in running.log()
    config = tmp_path / "config.yml"
    config.write_text("auth_module:\n  x: {}\n")
    missing = exporter_factory("postgres", ["--config.file", str(config)], env=clean_env(  # type: ignore[operator]
        PG_EXPORTER_EXTEND_QUERY_PATH=str(tmp_path / "nope.yaml")))
    fams = parse(scrape(f"{missing.url}/metrics")[1])
    assert fams["pg_exporter_user_queries_load_error"].value() == 1 and "cannot read queries file" in missing.log()
    assert fams["postgres_exporter_config_last_reload_successful"].value() == 0
    assert "unknown key 'auth_module'" in missing.log()


@pytest.mark.timeout(60)
def test_pg_up_0_within_the_deadline_and_no_password_anywhere(exporter_factory: object) -> None:
    closed = free_port()
    dsn = f"postgresql://monitor:{SECRET}@127.0.0.1:{closed}/postgres?sslmode=disable"
    running = exporter_factory("postgres", ["--log.level", "debug"],  # type: ignore[operator]
                               env=clean_env(DATA_SOURCE_NAME=dsn))
    status, body = scrape(f"{running.url}/metrics")
    assert status == 200
    fams = parse(body)
    assert fams["pg_up"].value() == 0 and fams["pg_exporter_last_scrape_error"].value() == 1
    assert "pg_scrape_collector_success" not in fams
    # a host that drops packets: answered by the scrape deadline, not a TCP timeout
    blackhole = f"postgresql://monitor:{SECRET}@10.255.255.1:5432/postgres?sslmode=disable&connect_timeout=30"
    slow = exporter_factory("postgres", [], env=clean_env(DATA_SOURCE_NAME=blackhole))  # type: ignore[operator]
    began = time.monotonic()
    status, body = scrape(f"{slow.url}/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "3"})
    assert status == 200 and parse(body)["pg_up"].value() == 0
    assert time.monotonic() - began < 4.0
    for output in (body, running.log(), slow.log()):
        assert SECRET not in output
    assert "PASSWORD_REMOVED" in running.log()


@pytest.mark.timeout(60)
def test_rejected_credentials_give_pg_up_0(exporter_factory: object, scratch_db: ScratchDb) -> None:
    dsn = as_uri(scratch_db.dsn).replace("postgresql://", f"postgresql://no_such_role_x:{SECRET}@", 1)
    dsn = dsn.replace("@root@", "@")
    running = exporter_factory("postgres", [], env=clean_env(DATA_SOURCE_NAME=dsn))  # type: ignore[operator]
    status, body = scrape(f"{running.url}/metrics")
    assert status == 200 and parse(body)["pg_up"].value() == 0
    assert "no_such_role_x" in running.log() and SECRET not in running.log() and SECRET not in body


@pytest.mark.timeout(90)
def test_serves_builtins_plus_queries_and_reloads_on_sighup(
    exporter_factory: object, scratch_db: ScratchDb, tmp_path: Path
) -> None:
    queries = tmp_path / "queries.yaml"
    queries.write_text(GOOD_QUERIES)
    running = exporter_factory("postgres", ["--extend.query-path", str(queries)],  # type: ignore[operator]
                               env=clean_env(DATA_SOURCE_NAME=as_uri(scratch_db.dsn)))
    fams = parse(scrape(f"{running.url}/metrics")[1])
    assert fams["pg_up"].value() == 1 and fams["pg_cli_one_v"].value() == 1
    assert "pg_stat_database_xact_commit" in fams and "postgres_exporter_build_info" in fams
    assert fams["pg_exporter_user_queries_load_error"].value() == 0

    def reload_and_scrape(text: str) -> dict[str, object]:
        queries.write_text(text)
        running.proc.send_signal(signal.SIGHUP)
        time.sleep(0.7)
        return parse(scrape(f"{running.url}/metrics")[1])  # type: ignore[return-value]

    fams = reload_and_scrape(BAD_QUERIES)  # type: ignore[assignment]
    assert fams["pg_exporter_user_queries_load_error"].value() == 1
    assert fams["pg_cli_one_v"].value() == 1, "the previous file stays in use"
    assert "unknown usage 'GAUGES'" in running.log()
    fams = reload_and_scrape(OTHER_QUERIES)  # type: ignore[assignment]
    assert fams["pg_exporter_user_queries_load_error"].value() == 0
    assert fams["pg_cli_two_v"].value() == 2 and "pg_cli_one_v" not in fams
    assert running.proc.poll() is None


@pytest.mark.timeout(60)
def test_probe_with_auth_module_and_allowlist(exporter_factory: object, scratch_db: ScratchDb, tmp_path: Path) -> None:
    config = tmp_path / "postgres_exporter.yml"
    config.write_text(f"auth_modules:\n  mon:\n    type: userpass\n    userpass:\n      username: root\n"
                      f"      password: {SECRET}\n    options:\n      sslmode: disable\n"
                      f"  nopass:\n    type: userpass\n    userpass:\n      username: root\n")
    running = exporter_factory(  # type: ignore[operator]
        "postgres", ["--config.file", str(config), "--probe.allowed-targets", "127.0.0.1:5432"],
        env=clean_env())
    target = f"127.0.0.1:5432/{scratch_db.name}"
    status, body = scrape(f"{running.url}/probe?target={target}&auth_module=mon")
    assert status == 200, body
    fams = parse(body)
    assert fams["pg_up"].value() == 1 and "pg_stat_database_xact_commit" in fams
    assert "postgres_exporter_build_info" not in fams, "/probe carries only the target's metrics"
    assert scrape(f"{running.url}/probe")[0] == 400
    assert scrape(f"{running.url}/probe?target={target}&auth_module=nope") == (400, "auth_module nope not found\n")
    assert scrape(f"{running.url}/probe?target={target}&auth_module=nopass")[0] == 400
    status, body = scrape(f"{running.url}/probe?target=127.0.0.2:5432/postgres&auth_module=mon")
    assert status == 403
    metrics = parse(scrape(f"{running.url}/metrics")[1])
    assert metrics["pg_up"].value() == 0, "no DATA_SOURCE_NAME: /metrics has no server"
    assert metrics["postgres_exporter_config_last_reload_successful"].value() == 1
    assert SECRET not in running.log()


@pytest.mark.timeout(60)
def test_start_loads_nothing_above_psycopg_it_does_not_need() -> None:
    """hashlib (queries-file digests), configparser (service files) and html (the landing page)
    are imported where they are used, not by every start."""
    code = ("import sys, exporters.postgres.main as m\n"
            "m.build_parser({}).parse_args([])\n"
            "print(sorted({'hashlib', '_hashlib', 'configparser', 'html.entities'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
