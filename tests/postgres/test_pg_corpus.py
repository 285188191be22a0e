"""Real-world queries files run unchanged: ours and the Go binaries side by side.

``corpus/`` holds files written for this test in the styles people run (postgres_exporter's
own example queries.yaml, the Helm chart's default ``config.queries``, CrunchyData pgmonitor,
Percona PMM, GitLab Omnibus), together using every construct those use. Each file is served
by ours and by postgres_exporter 0.17.1 and 0.11.1 against the same database: the same
families with the same types and label names, and equal values where they are stable.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from exporters.core.exposition import render_text
from exporters.postgres.collectors import SPECS
from exporters.postgres.dsn import Dsn
from exporters.postgres.exporter import Options, PostgresExporter, QueriesState
from exporters.postgres.queries import load_queries
from tests.conftest import free_port, reference_binary, wait_http
from tests.postgres.conftest import ScratchDb, as_uri, scrape
from tests.postgres.expo import Family, parse

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.yaml"))
LOG = logging.getLogger("exporters.test.postgres.corpus")

# families whose values do not move between two scrapes a second apart
STABLE = {
    "ccp_corpus_const_", "ccp_corpus_refresh_", "ccp_settings_gauge_", "pg_corpus_pmm_const_", "pg_corpus_labels_",
    "pg_corpus_repeated_", "pg_corpus_multi_", "pg_corpus_usages_", "pg_corpus_idle_", "pg_corpus_versioned_",
    "pg_postmaster_",
}
# (file, family) -> why only ours writes it: our deliberate differences (README, the postgres exporter)
OURS_ONLY = {
    ("gitlab_style.yaml", "pg_corpus_usages_state"):
        "MAPPEDMETRIC on text: upstream reads every column as a number and skips it",
    ("gitlab_style.yaml", "pg_corpus_usages_wait_milliseconds"):
        "DURATION on Go duration text: upstream reads every column as a number and skips it",
    ("gitlab_style.yaml", "pg_corpus_usages_pause_milliseconds"):
        "DURATION on an interval column: upstream reads every column as a number and skips it",
}


@pytest.fixture(scope="module")
def corpus_db(scratch_db: ScratchDb) -> Iterator[ScratchDb]:
    with scratch_db.connect() as conn:
        for name in ("corpus_a", "corpus_b"):
            conn.execute(f"CREATE TABLE IF NOT EXISTS {name} (id int PRIMARY KEY, note text)")
            conn.execute(f"INSERT INTO {name} SELECT g, 'n' FROM generate_series(1, 50) g ON CONFLICT DO NOTHING")
        conn.execute("CREATE TABLE IF NOT EXISTS corpus_refresh_log (at timestamptz)")
        conn.execute("INSERT INTO corpus_refresh_log VALUES (now())")
        # pgmonitor's refresh functions write: they need the session's default access mode
        conn.execute("CREATE OR REPLACE FUNCTION corpus_refresh() RETURNS int LANGUAGE sql AS "
                     "$$ INSERT INTO corpus_refresh_log VALUES (now()); SELECT 1 $$")
        conn.execute("ANALYZE corpus_a")
        conn.execute("SELECT pg_stat_force_next_flush()")
    idle = psycopg.connect(scratch_db.dsn, autocommit=True, application_name="corpus_idle")
    try:
        yield scratch_db
    finally:
        idle.close()


def ours(db: ScratchDb, path: Path) -> dict[str, Family]:
    queries = QueriesState(str(path), LOG)
    queries.load()
    exporter = PostgresExporter([Dsn.parse(as_uri(db.dsn))], Options(), queries,
                                [s for s in SPECS if s.enabled_by_default], LOG)
    try:
        return parse(render_text(exporter.collect(time.monotonic() + 10)).decode())
    finally:
        exporter.close()


def theirs(binary: str, db: ScratchDb, path: Path, log: Path) -> dict[str, Family]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATA_SOURCE_", "PG_EXPORTER_"))}
    env["DATA_SOURCE_NAME"] = as_uri(db.dsn)
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}", f"--extend.query-path={path}"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{port}/", proc=proc)
            status, body = scrape(f"http://127.0.0.1:{port}/metrics")
        finally:
            proc.terminate()
            proc.wait(10)
    assert status == 200, body[:500]
    return parse(body)


def namespace_families(fams: dict[str, Family], names: set[str]) -> dict[str, Family]:
    """The queries file's families, its series only (they carry the server label; the
    collector package's series of the same family do not)."""
    out = {}
    for name, fam in fams.items():
        samples = [s for s in fam.samples if "server" in s[1]]
        if name in names and samples:
            out[name] = Family(name, fam.type, samples)
    return out


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.timeout(120)
@pytest.mark.parametrize("generation", ["trixie", "bookworm"])
@pytest.mark.parametrize("name", FILES)
def test_corpus_file_served_as_the_go_binary_serves_it(
    name: str, generation: str, corpus_db: ScratchDb, tmp_path: Path
) -> None:
    binary = reference_binary("postgres", generation)
    path = CORPUS / name
    loaded = load_queries(str(path))
    assert not loaded.errors, [str(p) for p in loaded.errors]
    declared = {f for ns in loaded.namespaces for f, _, _ in ns.metrics.families()}
    mine_all = ours(corpus_db, path)
    theirs_all = theirs(binary, corpus_db, path, tmp_path / "reference.log")
    assert mine_all["pg_up"].value() == 1 and theirs_all["pg_up"].value() == 1
    assert mine_all["pg_exporter_user_queries_load_error"].value() == 0
    assert theirs_all["pg_exporter_user_queries_load_error"].value() == 0
    mine = namespace_families(mine_all, declared)
    go = namespace_families(theirs_all, declared)
    problems: list[str] = []
    for family in sorted(set(mine) | set(go)):
        if family not in go:
            if (name, family) not in OURS_ONLY:
                problems.append(f"{family}: only ours writes it")
            continue
        if family not in mine:
            problems.append(f"{family}: only {generation}'s binary writes it")
            continue
        if mine[family].type != go[family].type:
            problems.append(f"{family}: type {mine[family].type} != {go[family].type}")
        if mine[family].label_names() != go[family].label_names():
            problems.append(f"{family}: labels {sorted(mine[family].label_names())} != "
                            f"{sorted(go[family].label_names())}")
        if family.startswith(tuple(STABLE)):
            want = sorted((s[0], sorted(s[1].items()), s[2]) for s in go[family].samples)
            got = sorted((s[0], sorted(s[1].items()), s[2]) for s in mine[family].samples)
            if len(want) != len(got) or not all(
                    w[:2] == g[:2] and same_value(w[2], g[2]) for w, g in zip(want, got, strict=True)):
                problems.append(f"{family}: samples {got} != {want}")
    assert not problems, "\n".join(problems)
    assert mine, "the file exported nothing"


@pytest.mark.timeout(30)
def test_the_pgmonitor_style_refresh_wrote(corpus_db: ScratchDb) -> None:
    fams = ours(corpus_db, CORPUS / "pgmonitor_style.yaml")
    assert fams["ccp_corpus_refresh_refreshed"].value() == 1
    assert fams["ccp_corpus_refresh_has_rows"].value() == 1
