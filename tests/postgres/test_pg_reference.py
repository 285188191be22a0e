"""Side by side with the reference postgres_exporter binaries (0.11.1 and 0.17.1) on the same database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port, reference_binary, wait_http
from tests.postgres.conftest import ScratchDb, as_uri, scrape
from tests.postgres.expo import Family, parse
from tests.postgres.version_differences import DIFFERENCES, explain

RUNTIME = ("go_", "process_", "promhttp_", "python_")
# our own self-metrics, listed in README's differences
OURS = ("pg_exporter_duplicate_series_dropped_total", "pg_exporter_rows_dropped_total")


def families(text: str) -> dict[str, Family]:
    return {name: fam for name, fam in parse(text).items()
            if not name.startswith(RUNTIME) and name not in OURS and fam.samples}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("generation", ["bookworm", "trixie"])
def test_same_types_and_labels_as_the_reference(
    scratch_db: ScratchDb, exporter_factory: object, tmp_path: Path, generation: str
) -> None:
    binary = reference_binary("postgres", generation)
    with scratch_db.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS ref_items (id int PRIMARY KEY)")
        conn.execute("INSERT INTO ref_items VALUES (1) ON CONFLICT DO NOTHING")
    dsn = as_uri(scratch_db.dsn)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATA_SOURCE_", "PG_EXPORTER_"))}
    env["DATA_SOURCE_NAME"] = dsn
    log = (tmp_path / "reference.log").open("wb")
    ref = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"], env=env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=ref)
        theirs = families(scrape(f"http://127.0.0.1:{port}/metrics")[1])
    finally:
        ref.terminate()
        ref.wait(10)
        log.close()
    ours_proc = exporter_factory("postgres", [], env={**{k: "" for k in os.environ if k.startswith(  # type: ignore[operator]
        ("DATA_SOURCE_", "PG_EXPORTER_"))}, "DATA_SOURCE_NAME": dsn})
    ours = families(scrape(f"{ours_proc.url}/metrics")[1])
    assert theirs["pg_up"].value() == 1 and ours["pg_up"].value() == 1

    problems: list[str] = []
    used: set[int] = set()
    for name in sorted(set(theirs) | set(ours)):
        if name not in ours or name not in theirs:
            kind = "removed" if name not in ours else "added"
            row = explain(name, kind, generation)
            if row is None:
                problems.append(f"{name}: only in {'the reference' if kind == 'removed' else 'ours'}, unexplained")
            else:
                used.add(DIFFERENCES.index(row))
            continue
        if theirs[name].type != ours[name].type:
            problems.append(f"{name}: type {theirs[name].type} (reference) != {ours[name].type} (ours)")
        want = theirs[name].label_names()
        row = explain(name, "labels", generation)
        if row is not None:
            want = (want - row.dropped) | row.new
            used.add(DIFFERENCES.index(row))
        if ours[name].label_names() != want:
            problems.append(f"{name}: labels {sorted(ours[name].label_names())} != expected {sorted(want)}")
    assert not problems, "\n".join(problems)
    stale = [row.name for i, row in enumerate(DIFFERENCES) if i not in used and row.reference == generation]
    assert not stale, f"rows in version_differences.py that no family needed: {stale}"
    # the families every dashboard uses are there on both sides
    for name in ("pg_up", "pg_static", "pg_stat_activity_count", "pg_settings_max_connections",
                 "pg_stat_database_xact_commit", "pg_locks_count", "pg_database_size_bytes"):
        assert name in theirs and name in ours, name
