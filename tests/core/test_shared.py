"""One of each thing: families, YAML key checks, reloadable files, redaction, process metrics."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from exporters.core.exposition import render_text
from exporters.core.flags import ConfigError
from exporters.core.metrics import FamilyConflict, FamilySet, HistogramFamily, InfoFamily, SummaryFamily
from exporters.core.redact import MASK, redact, redact_url
from exporters.core.reloadable import ReloadableFile
from exporters.core.selfmetrics import HandlerStats, ProcessMetrics, open_fds
from exporters.core.yamlfile import EntryError, Problems, YamlReader, read_text

LOG = logging.getLogger("test")


def test_histogram_as_go_const_histogram() -> None:
    family = HistogramFamily("test_latency_seconds", "Latency.", labels=["op"])
    family.add_metric(["get"], 7, 1.5, {0.1: 2, 1.0: 5, float("inf"): 7})
    assert render_text([family]).decode() == (
        "# HELP test_latency_seconds Latency.\n# TYPE test_latency_seconds histogram\n"
        'test_latency_seconds_bucket{op="get",le="0.1"} 2\n'
        'test_latency_seconds_bucket{op="get",le="1"} 5\n'
        'test_latency_seconds_bucket{op="get",le="+Inf"} 7\n'
        'test_latency_seconds_sum{op="get"} 1.5\n'
        'test_latency_seconds_count{op="get"} 7\n'
    )


def test_summary_and_info() -> None:
    summary = SummaryFamily("test_calls", "Calls.", labels=["cmd"])
    summary.add_metric(["set"], 3, 0.25, [(99.9, 0.2), (50, 0.1)])
    info = InfoFamily("test_build_info", "Build.", labels=["version"])
    info.add_metric(["1.0"])
    text = render_text([summary, info]).decode()
    assert 'test_calls{cmd="set",quantile="50"} 0.1\ntest_calls{cmd="set",quantile="99.9"} 0.2\n' in text
    assert 'test_calls_count{cmd="set"} 3\n' in text
    assert '# TYPE test_build_info gauge\ntest_build_info{version="1.0"} 1\n' in text
    with pytest.raises(ValueError, match="label values"):
        summary.add_metric([], 1, 1)


def test_family_set_gets_or_creates() -> None:
    families = FamilySet()
    families.gauge("test_a", "A.", ["x"]).add_metric(["1"], 1)
    families.gauge("test_a", "A.", ["x"]).add_metric(["2"], 2)
    families.counter("test_b", "B.").add_metric([], 3)
    assert [f.name for f in families.families()] == ["test_a", "test_b"]
    assert len(families.families()[0].samples) == 2
    with pytest.raises(FamilyConflict):
        families.gauge("test_a", "A.", ["y"])
    with pytest.raises(FamilyConflict):
        families.counter("test_a", "A.", ["x"])


def test_yaml_reader_merges_and_sorts_warnings_from_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("base: &b {x: 1}\nitem:\n  <<: *b\n  y: 2\n  bogus: 3\n  y: 4\nbad: [1]\n")
    reader = YamlReader(str(path), read_text(str(path)))
    assert reader.root is not None
    top = reader.mapping(reader.root, "the file")
    item = reader.mapping(top["item"][1], "item")
    assert {k: v.value for k, (_, v) in item.items()} == {"x": "1", "y": "4", "bogus": "3"}
    reader.unknown(item, ("x", "y"), "in item")
    with pytest.raises(EntryError, match=r"c.yml:7: bad must be a mapping, not a list"):
        reader.mapping(top["bad"][1], "bad")
    assert [str(p) for p in reader.problems.found] == [
        f"{path}:6: warning: duplicate key 'y' in item (first at line 4); the last one is used, as upstream's "
        "YAML decoder does",
        f"{path}:5: warning: unknown key 'bogus' in item is ignored, as upstream ignores it (known: x, y)",
    ]
    with pytest.raises(EntryError, match=r"c.yml:2: invalid YAML"):
        YamlReader(str(path), "a: [1\n")
    strict = YamlReader(str(path), read_text(str(path)), Problems(str(path), strict=True))
    assert strict.root is not None
    with pytest.raises(ConfigError, match=r"c.yml:6: duplicate key 'y'"):
        strict.mapping(strict.mapping(strict.root, "the file")["item"][1], "item")


def test_yaml_file_bounds(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_text("a: " + "x" * 100)
    with pytest.raises(ConfigError, match="larger than 10 bytes"):
        read_text(str(big), max_bytes=10)
    bad = tmp_path / "bad.yml"
    bad.write_text("a: [1,\n")
    with pytest.raises(EntryError, match=r"bad.yml:\d+: invalid YAML"):
        YamlReader(str(bad), read_text(str(bad)))


def test_reload_keeps_the_previous_version_on_error(tmp_path: Path) -> None:
    path = tmp_path / "n.txt"
    path.write_text("1")
    now = [1000.0]
    file = ReloadableFile(str(path), lambda p: int(Path(p).read_text()), LOG, clock=lambda: now[0])
    assert file.value == 1
    path.write_text("not a number")
    now[0] = 2000.0
    assert file.reload() is False and file.value == 1
    text = render_text(file.metrics("test_exporter", "Test")).decode()
    assert "test_exporter_config_last_reload_successful 0\n" in text
    assert "test_exporter_config_last_reload_success_timestamp_seconds 1000\n" in text
    path.write_text("2")
    assert file.reload() is True and file.value == 2 and file.last_success_time == 2000.0


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://user:s3cret@host:6379/0", f"redis://user:{MASK}@host:6379/0"),
        ("redis://:s3cret@host:6379", f"redis://:{MASK}@host:6379"),
        ("redis://host:6379", "redis://host:6379"),
        ("postgresql://u:p%40ss@h/db?sslmode=disable", f"postgresql://u:{MASK}@h/db?sslmode=disable"),
        ("redis://u:pw@[::1", "[::1"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_masks_quoted_forms_too() -> None:
    assert redact("dial a:p@ss / a:p%40ss", ["p@ss", ""]) == f"dial a:{MASK} / a:{MASK}"


def test_process_metrics_from_proc_self() -> None:
    text = render_text(ProcessMetrics().collect()).decode()
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line.startswith("process_")}
    assert values["process_resident_memory_bytes"] > 1 << 20
    assert values["process_open_fds"] >= 3
    assert values["process_cpu_seconds_total"] > 0
    assert abs(values["process_start_time_seconds"] - os.stat(f"/proc/{os.getpid()}").st_mtime) < 600
    assert "python_info{implementation=" in text


@pytest.mark.timeout(30)
def test_open_fds_counts_descriptors_without_listing_them_on_a_live_procfs() -> None:
    before = open_fds("/proc/self/fd")
    socks = [socket.socket() for _ in range(100)]
    try:
        assert open_fds("/proc/self/fd") == before + 100
        # a listing counts its own descriptor too; before Linux 6.2 both are listings
        assert open_fds("/proc/self/fd", live=False) - open_fds("/proc/self/fd") in (0, 1)
    finally:
        for sock in socks:
            sock.close()


def test_open_fds_lists_a_procfs_copy(tmp_path: Path) -> None:
    """A directory that is not the running kernel's procfs has a size of its own: its entries are counted."""
    (tmp_path / "self" / "fd").mkdir(parents=True)
    for fd in range(3):
        (tmp_path / "self" / "fd" / str(fd)).write_text("")
    (tmp_path / "self" / "stat").write_text("1 (python) S " + "0 " * 50)
    text = render_text(ProcessMetrics(procfs=str(tmp_path)).collect()).decode()
    assert "\nprocess_open_fds 3\n" in text


def test_promhttp_errors_only_where_upstream_registers_them() -> None:
    node = render_text(HandlerStats(errors=True).collect()).decode()
    assert ('# TYPE promhttp_metric_handler_errors_total counter\n'
            'promhttp_metric_handler_errors_total{cause="encoding"} 0\n'
            'promhttp_metric_handler_errors_total{cause="gathering"} 0\n') in node
    assert "errors_total" not in render_text(HandlerStats().collect()).decode()  # postgres_exporter 0.15
