"""Our node collectors on tests/fixtures/node against the reference node_exporter's golden output.

Only collectors that exist in exporters/node/collectors/ are compared; see golden.py for
how the golden file is made and tests/node/version_differences.py for what is adjusted.
"""

from __future__ import annotations

import pytest

from tests.node import golden
from tests.node.version_differences import (
    DIFFERENCES,
    HELP_DIFFERENCES,
    REFERENCE_VERSIONS,
    Difference,
    Series,
    expected_from_reference,
    for_reference,
)

SECTIONS = golden.load_golden()
IMPLEMENTED = golden.implemented_collectors()
COMPARED = [name for name in IMPLEMENTED if name in SECTIONS]


def test_golden_file_has_a_section_per_table_row() -> None:
    assert sorted(SECTIONS) == sorted(row.name for row in golden.COLLECTORS)
    assert len({row.name for row in golden.COLLECTORS}) == len(golden.COLLECTORS), "duplicate row in COLLECTORS"


def test_golden_file_has_no_dropped_family() -> None:
    for name, text in SECTIONS.items():
        for series in golden.parse_samples(text):
            rule = golden.unstable_rule(series.name)
            assert rule is None or rule.compare != "drop", f"{name}: {series.name} should have been dropped"


def test_every_implemented_collector_has_a_golden_row() -> None:
    missing = [name for name in IMPLEMENTED if name not in SECTIONS and name not in golden.LIVE_ONLY]
    assert not missing, f"add these collectors to COLLECTORS in tests/node/golden.py and regenerate: {missing}"
    for name, module in golden.LIVE_ONLY.items():
        assert name in IMPLEMENTED and name not in SECTIONS and (golden.REPO / module).is_file(), name


@pytest.mark.timeout(30)
@pytest.mark.parametrize("collector", COMPARED or [pytest.param("none", marks=pytest.mark.skip("no collector yet"))])
def test_collector_matches_reference(collector: str) -> None:
    ours = golden.scrape_ours([collector])[collector]
    diff = golden.compare(collector, SECTIONS[collector], ours)
    assert not diff, diff.report()


@pytest.mark.parametrize(
    ("reference", "ours", "expect"),
    [
        ('a{x="1"} 1\n', 'a{x="1"} 1.0000000000001\n', ""),
        ('a{x="1"} 1\n', 'a{x="1"} 1.001\n', "values"),
        ('a{x="1"} 1\n', 'a{x="2"} 1\n', "missing+extra"),
        ("", 'a{x="1"} 1\n', "extra"),
        ('a{x="1"} 1\n', "", "missing"),
        ("node_time_seconds 5\n", "node_time_seconds 6\n", ""),
        ('node_uname_info{nodename="a"} 1\n', 'node_uname_info{nodename="b"} 1\n', ""),
        ('node_uname_info{nodename="a"} 1\n', 'node_uname_info{sysname="a"} 1\n', "missing+extra"),
        ("node_scrape_collector_duration_seconds 1\n", "", ""),
        ('node_cpu_seconds_total{cpu="2",mode="idle"} 0\n', "", ""),
        ('node_cpu_seconds_total{cpu="1",mode="idle"} 0\n', "", "missing"),
        ("", 'node_cpu_scaling_governor{cpu="0",governor="x"} 1\n', ""),
        ("a NaN\n", "a NaN\n", ""),
        ("# HELP a X.\n# TYPE a gauge\na 1\n", "# HELP a X.\n# TYPE a gauge\na 1\n", ""),
        ("# HELP a X.\n# TYPE a gauge\na 1\n", "# HELP a Y.\n# TYPE a gauge\na 1\n", "metadata"),
        ("# HELP a X.\n# TYPE a gauge\na 1\n", "# HELP a X.\n# TYPE a untyped\na 1\n", "metadata"),
        ("# HELP a_total X.\n# TYPE a_total counter\na_total 1\n",
         "# HELP a_total X.\n# TYPE a_total gauge\na_total 1\n", "metadata"),
        ("# HELP a \n# TYPE a gauge\na 1\n", "# HELP a\n# TYPE a gauge\na 1\n", ""),
    ],
)
def test_compare_detects_differences(reference: str, ours: str, expect: str) -> None:
    diff = golden.compare("t", reference, ours)
    found = "+".join(k for k in ("missing", "extra", "values", "metadata") if getattr(diff, k))
    assert found == expect, diff.report()


def test_version_difference_rows_are_documented() -> None:
    for row in DIFFERENCES:
        assert row.what and row.why and row.upstream, row
        assert row.kind in ("added", "removed", "changed")
        if row.kind == "changed":
            assert row.transform is not None, row
    sample = Series("node_cpu_seconds_total", (("cpu", "2"), ("mode", "idle")), 0.0)
    assert any(row.matches(sample) for row in DIFFERENCES)


def test_help_difference_rows_are_used() -> None:
    for row in HELP_DIFFERENCES:
        assert row.upstream and row.reference != row.target, row
        metadata = golden.parse_metadata(SECTIONS[row.collector])
        assert metadata[("HELP", row.family)] == row.reference, row


def test_golden_compares_help_and_type_of_every_family() -> None:
    families = {family for text in SECTIONS.values() for kind, family in golden.parse_metadata(text)
                if kind == "TYPE"}
    with_help = {family for text in SECTIONS.values() for kind, family in golden.parse_metadata(text)
                 if kind == "HELP"}
    assert families == with_help
    assert len(families) > 500


def test_rows_name_a_known_reference_and_golden_cmd_records_it() -> None:
    command = golden.GOLDEN_CMD.read_text()
    for generation in {row.reference for row in golden.COLLECTORS}:
        assert generation in REFERENCE_VERSIONS
        assert f"# {generation}: node_exporter, version {REFERENCE_VERSIONS[generation][1:]} " in command


def test_difference_rows_apply_only_to_their_reference() -> None:
    row = Difference(collector="t", kind="removed", name="a", what="w", why="y", upstream="u", reference="trixie")
    sample = Series("a", (), 1.0)
    assert expected_from_reference({sample}, for_reference("trixie", (row,))) == set()
    assert expected_from_reference({sample}, for_reference("bookworm", (row,))) == {sample}
    assert all(d.reference == "bookworm" for d in for_reference("bookworm"))
    with pytest.raises(ValueError):
        for_reference("sid")
