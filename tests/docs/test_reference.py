"""docs/metrics.md is what the code says, and documents every family ours serves.

The reference is generated (``python -m tests.docs.reference --write``); these tests fail
when the committed file drifts from the code, when a family of the golden outputs, of a live
scrape of ours (node on this host, postgres and redis against real servers) or built from
literals anywhere in exporters/ is missing from it, or when a documented family's type,
labels or help differ from what ours serves.
"""

from __future__ import annotations

import importlib
import pkgutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import exporters
from exporters.core.collector import FamilyDoc
from tests.docs import reference
from tests.docs.reference import Observed, ReferenceError, Row, lookup, observe, resolve
from tests.redis.conftest import load_data

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return reference.all_rows(reference.sections())


def problems(rows: list[Row], exporter: str, text: str) -> list[str]:
    """What ours serves (exposition ``text``) that the reference lacks or describes otherwise."""
    out = []
    for name, seen in observe(text).items():
        row = lookup(rows, exporter, name)
        if row is None:
            out.append(f"{name}: not in docs/metrics.md")
            continue
        if row.type != seen.type:
            out.append(f"{name}: documented {row.type}, served {seen.type}")
        if not set(seen.labels or ()) <= set(row.labels):
            out.append(f"{name}: documented labels {row.labels}, served {seen.labels}")
        if not reference.is_pattern(row.name) and row.help != seen.help:
            out.append(f"{name}: documented help {row.help!r}, served {seen.help!r}")
    return out


def test_committed_reference_is_generated_from_the_code() -> None:
    assert reference.OUTPUT.read_text() == reference.render(), \
        "docs/metrics.md is stale: run python -m tests.docs.reference --write"


def test_readme_links_the_reference() -> None:
    assert "docs/metrics.md" in (reference.REPO / "README.md").read_text()


def test_golden_families_are_documented(rows: list[Row]) -> None:
    from tests.node.golden import load_golden
    from tests.node.version_differences import family_explained

    missing = []
    for collector, text in load_golden().items():
        for name in observe(text):
            # the textfile collector serves the files' families: its catch-all row documents them
            documented = lookup(rows, "node", name, catch_all=collector == "textfile")
            if family_explained(name, "reference") is None and documented is None:
                missing.append(f"{collector}: {name}")
    assert not missing


def test_literal_families_are_documented(rows: list[Row]) -> None:
    """Every family exporters/ builds from a literal name (``GaugeFamily("node_x", ...)``)."""
    prefixes = {"node_": "node", "pg_": "postgres", "postgres_exporter_": "postgres"}
    missing = []
    for info in pkgutil.walk_packages(exporters.__path__, "exporters."):
        if info.name.endswith("__main__"):
            continue
        for name in reference.literal_families(importlib.import_module(info.name)):
            exporter = next((e for p, e in prefixes.items() if name.startswith(p)), None)
            if exporter is not None and lookup(rows, exporter, name) is None:
                missing.append(f"{info.name}: {name}")
    assert not missing


def test_patterns_group_names_and_take_help_from_data() -> None:
    observed = {
        "node_memory_MemFree_bytes": Observed("gauge", "Memory information field MemFree_bytes.", ()),
        "node_memory_Cached_bytes": Observed("gauge", "Memory information field Cached_bytes.", ()),
        "node_memory_HugePages_Total": Observed("gauge", "Memory information field HugePages_Total.", ()),
    }
    rows = resolve("node", "meminfo", "/proc/meminfo", (FamilyDoc("node_memory_<Field>_bytes"),), observed)
    assert [(r.name, r.help, r.examples) for r in rows] == [
        ("node_memory_<Field>_bytes", "Memory information field <Field>_bytes.",
         ("node_memory_MemFree_bytes", "node_memory_Cached_bytes")),
        ("node_memory_HugePages_Total", "Memory information field HugePages_Total.", ()),
    ]
    assert lookup(rows, "node", "node_memory_Active_bytes") is rows[0]
    assert lookup(rows, "node", "node_memory_Active") is None


@pytest.mark.parametrize(("declared", "error"), [
    (FamilyDoc("node_x", "counter"), "declared counter, emits gauge"),
    (FamilyDoc("node_x", labels=("other",)), "declared labels"),
    (FamilyDoc("node_y_<name>"), "emitted on no fixture"),
])
def test_declarations_that_contradict_the_code_fail(declared: FamilyDoc, error: str) -> None:
    with pytest.raises(ReferenceError, match=error):
        resolve("node", "x", "", (declared,), {"node_x": Observed("gauge", "X.", ("device",))})


def test_problems_reports_what_the_reference_lacks_or_misdescribes() -> None:
    rows = [Row("node", "x", "node_x", "gauge", ("device",), "X.")]
    text = textwrap.dedent("""\
        # HELP node_x Y.
        # TYPE node_x untyped
        node_x{device="a",extra="b"} 1
        # HELP node_z Z.
        # TYPE node_z gauge
        node_z 1
    """)
    assert problems(rows, "node", text) == [
        "node_x: documented gauge, served untyped",
        "node_x: documented labels ('device',), served ('device', 'extra')",
        "node_x: documented help 'X.', served 'Y.'",
        "node_z: not in docs/metrics.md",
    ]


# ---------------------------------------------------------------- live: ours on real sources

NODE_FLAGS = ["--collector.buddyinfo", "--collector.cgroups", "--collector.cpu_vulnerabilities",
              "--collector.interrupts", "--collector.ksmd", "--collector.lnstat", "--collector.meminfo_numa",
              "--collector.mountstats", "--collector.processes", "--collector.softirqs", "--collector.tcpstat",
              "--collector.zoneinfo", "--collector.network_route", "--collector.qdisc", "--collector.cpu.info",
              "--collector.sysctl", "--collector.sysctl.include=vm.swappiness"]


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read().decode("utf-8")


def test_node_on_this_host_is_documented(rows: list[Row], exporter_factory: object) -> None:
    node = exporter_factory("node", NODE_FLAGS)  # type: ignore[operator]
    assert not problems(rows, "node", _get(node.url + "/metrics"))


def test_postgres_is_documented(rows: list[Row], exporter_factory: object, postgres_dsn: str) -> None:
    from exporters.postgres.collectors import SPECS

    flags = [f"--collector.{spec.name}" for spec in SPECS if not spec.enabled_by_default]
    pg = exporter_factory("postgres", flags, env={"DATA_SOURCE_NAME": postgres_dsn})  # type: ignore[operator]
    assert not problems(rows, "postgres", _get(pg.url + "/metrics"))


@pytest.fixture
def redis_server(server_factory: object) -> Iterator[object]:
    server = server_factory("redis7")  # type: ignore[operator]
    load_data(server)
    yield server


def test_redis_is_documented(rows: list[Row], exporter_factory: object, redis_server: object,
                             tmp_path: Path) -> None:
    script = tmp_path / "script.lua"
    script.write_text('return {"answer", "42"}')
    flags = ["-redis.addr", redis_server.url,  # type: ignore[attr-defined]
             "-check-keys", "user:*", "-check-single-keys", "plain,word,list", "-check-single-streams", "events",
             "-count-keys", "user:*", "-check-key-groups", "^(user):", "-include-config-metrics",
             "-include-system-metrics", "-export-client-list", "-ping-on-connect", "-script", str(script)]
    redis = exporter_factory("redis", flags)  # type: ignore[operator]
    assert not problems(rows, "redis", _get(redis.url + "/metrics"))
