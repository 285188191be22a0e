"""textfile collector: the text-format parser and node_exporter's file semantics."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from exporters.core.exposition import render_text
from exporters.node.collectors import textfile
from exporters.node.collectors.textfile import TextfileCollector, TextParseError, parse_text_format
from tests.node.collected import samples, value
from tests.node.fake_host import context, write_tree


@pytest.mark.parametrize(
    ("text", "name", "typ", "help_text", "series"),
    [
        ("a 1\n", "a", "untyped", None, [({}, 1.0)]),
        ("# TYPE a counter\na{x=\"1\"} 2.5\n", "a", "counter", None, [({"x": "1"}, 2.5)]),
        ("# HELP a with \\\\ and \\n\n# TYPE a gauge\na -Inf\n", "a", "gauge", "with \\ and \n",
         [({}, -math.inf)]),
        ('a{x="q\\"uote",y="back\\\\slash",z="new\\nline"} 1\n', "a", "untyped", None,
         [({"x": 'q"uote', "y": "back\\slash", "z": "new\nline"}, 1.0)]),
        ('a{x="1",} 1\n', "a", "untyped", None, [({"x": "1"}, 1.0)]),  # trailing comma
        ("  a  {  x = \"1\" , }   3\n", "a", "untyped", None, [({"x": "1"}, 3.0)]),
        ("a{} 4\n", "a", "untyped", None, [({}, 4.0)]),
        ("# TYPE a GAUGE\na 1\n", "a", "gauge", None, [({}, 1.0)]),
        ("# just a comment\n#\n\na 1\n", "a", "untyped", None, [({}, 1.0)]),
        ("a 1e3\n", "a", "untyped", None, [({}, 1000.0)]),
        ("# HELP a\n# TYPE a\na 1\n", "a", "untyped", None, [({}, 1.0)]),  # empty HELP/TYPE set nothing
    ],
)
def test_parse_valid(text: str, name: str, typ: str, help_text: str | None,
                     series: list[tuple[dict[str, str], float]]) -> None:
    families = parse_text_format(text)
    assert list(families) == [name]
    fam = families[name]
    assert fam.type == typ
    assert fam.help == help_text
    assert [(m.labels, m.value) for m in fam.metrics] == series


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('a{x="1} 1\n', "label value"),
        ("a{1x=\"1\"} 1\n", "invalid label name"),
        ('a{x="1" y="2"} 1\n', "label set"),
        ('a{x="1",x="2"} 1\n', "duplicate label"),
        ('a{__name__="b"} 1\n', "reserved"),
        ('a{x="\\t"} 1\n', "escape"),
        ("a\n", "value"),
        ("a one\n", "float"),
        ("a 1 2 3\n", "spurious"),
        ("a 1 \n", "timestamp"),  # a blank after the value promises a timestamp
        ("a 1 5 \n", "spurious"),
        ("a 1\r\n", "float"),  # CR is not a separator
        ("a 1e400\n", "float"),  # out of float64 range
        ("a 0x1p-2\n", "float"),
        ("a 1_000\n", "float"),
        ("a 1 1.5\n", "timestamp"),
        ("1a 1\n", "invalid metric name"),
        ("# TYPE a gauge\n# TYPE a gauge\na 1\n", "second TYPE"),
        ("a 1\n# TYPE a gauge\n", "TYPE reported after samples"),
        ("# HELP a x\n# HELP a y\na 1\n", "second HELP"),
        ("# TYPE a widget\na 1\n", "unknown metric type"),
        ("# TYPE a gauge \na 1\n", "unknown metric type"),
        ("# TYPE 1a gauge\n", "metric name in comment"),
        ('# TYPE s summary\ns{quantile="x"} 1\n', "quantile"),
        ('# TYPE h histogram\nh_bucket{le="x"} 1\n', "'le'"),
    ],
)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(TextParseError, match=message):
        parse_text_format(text)


def test_parse_summary_and_histogram_group_by_labels() -> None:
    text = (
        "# TYPE h histogram\n"
        'h_bucket{a="1",le="0.5"} 2\nh_bucket{a="1",le="+Inf"} 5\nh_sum{a="1"} 3\nh_count{a="1"} 5\n'
        'h_bucket{a="2",le="1"} 1\nh_count{a="2"} 1\n'
        "# TYPE s summary\n"
        's{quantile="0.9"} 7\ns_sum 10\ns_count 4\n'
        "s_total 1\n"  # not a summary suffix: a family of its own
    )
    families = parse_text_format(text)
    assert sorted(families) == ["h", "s", "s_total"]
    h = families["h"].metrics
    assert [(m.labels, m.buckets, m.sum, m.count) for m in h] == [
        ({"a": "1"}, {0.5: 2.0, math.inf: 5.0}, 3.0, 5.0),
        ({"a": "2"}, {1.0: 1.0}, 0.0, 1.0),
    ]
    s = families["s"].metrics
    assert [(m.labels, m.buckets, m.sum, m.count) for m in s] == [({}, {0.9: 7.0}, 10.0, 4.0)]


def test_parse_repeated_le_keeps_the_last_and_negative_zero_is_zero() -> None:
    families = parse_text_format('# TYPE h histogram\nh_bucket{le="1",le="2"} 1\nz -0\n')
    assert families["h"].metrics[0].buckets == {2.0: 1.0}
    assert math.copysign(1.0, families["z"].metrics[0].value) == 1.0


def test_crlf_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "dos.prom").write_bytes(b"a 1\r\n")
    assert value(collect(str(tmp_path)), "node_textfile_scrape_error") == 1


def test_parse_drops_families_without_samples() -> None:
    assert parse_text_format("# HELP a x\n# TYPE a gauge\n") == {}


def collect(directory: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return samples(TextfileCollector(directory).collect())


def test_missing_labels_are_filled_and_help_names_the_files(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "a.prom": 'm{x="1"} 1\nm{y="2"} 2\n',
        "b.prom": "n 3\n",
        "c.prom": 'n{z="9"} 4\n',
    })
    metrics = list(TextfileCollector(str(tmp_path)).collect())
    found = samples(metrics)
    assert value(found, "m", x="1", y="") == 1
    assert value(found, "m", x="", y="2") == 2
    assert value(found, "n") == 3 and value(found, "n", z="9") == 4
    helps = {m.name: m.documentation for m in metrics}
    assert helps["n"] == f"Metric read from {tmp_path}/b.prom, {tmp_path}/c.prom"
    assert value(found, "node_textfile_scrape_error") == 0
    mtime = os.stat(tmp_path / "a.prom").st_mtime_ns // 10**9
    assert value(found, "node_textfile_mtime_seconds", file=f"{tmp_path}/a.prom") == mtime


def test_bad_files_are_reported_not_fatal(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "good.prom": "ok 1\n",
        "bad.prom": "broken{\n",
        "stamped.prom": "t 1 1700000000000\n",
        "ignored.txt": "not read{\n",
    })
    (tmp_path / "dir.prom").mkdir()
    found = collect(str(tmp_path))
    assert value(found, "ok") == 1
    assert value(found, "node_textfile_scrape_error") == 1
    files = {dict(labels)["file"] for name, labels in found if name == "node_textfile_mtime_seconds"}
    assert files == {f"{tmp_path}/good.prom"}
    assert ("t", ()) not in found


def test_conflicting_files_keep_the_first_family(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "1.prom": "# HELP c first\n# TYPE c counter\nc 1\nd 1\ndup{a=\"1\"} 1\n",
        "2.prom": "# HELP c other\n# TYPE c counter\nc{x=\"2\"} 2\n# TYPE d gauge\nd{x=\"2\"} 2\ndup{a=\"1\"} 5\n",
    })
    metrics = list(TextfileCollector(str(tmp_path)).collect())
    found = samples(metrics)
    assert value(found, "c") == 1 and ("c", (("x", "2"),)) not in found
    assert value(found, "d") == 1 and ("d", (("x", "2"),)) not in found
    assert value(found, "dup", a="1") == 1
    assert value(found, "node_textfile_scrape_error") == 0
    text = render_text(metrics).decode()
    assert "# TYPE c counter\nc 1\n" in text  # a counter without _total keeps its name


def test_histogram_and_summary_exposition(tmp_path: Path) -> None:
    write_tree(tmp_path, {"h.prom": (
        "# TYPE h histogram\n"
        'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 9\nh_sum 4\nh_count 3\n'
        "# TYPE s summary\n"
        's{quantile="0.99"} 3\ns{quantile="0.5"} 1\ns_sum 2\ns_count 3\n'
    )})
    text = render_text(TextfileCollector(str(tmp_path)).collect()).decode()
    # +Inf is the sample count (node_exporter rebuilds the histogram from its finite buckets)
    assert 'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 3\nh_sum 4\nh_count 3\n' in text
    assert 's{quantile="0.5"} 1\ns{quantile="0.99"} 3\ns_sum 2\ns_count 3\n' in text


def test_directory_states(tmp_path: Path) -> None:
    # no directory configured: nothing read, no error
    assert collect("") == {("node_textfile_scrape_error", ()): 0.0}
    # an unreadable directory is an error
    assert value(collect(str(tmp_path / "missing")), "node_textfile_scrape_error") == 1
    # a glob reads every matching directory
    write_tree(tmp_path, {"d1/a.prom": "a 1\n", "d2/b.prom": "b 2\n"})
    found = collect(str(tmp_path / "d*"))
    assert value(found, "a") == 1 and value(found, "b") == 2


def test_flag(tmp_path: Path) -> None:
    collector = textfile.build(context(tmp_path, f"--collector.textfile.directory={tmp_path}"))
    assert collector.directory == str(tmp_path)
    assert textfile.build(context(tmp_path)).directory == ""


def test_file_label_is_a_clean_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, {"dir/a.prom": "a 1\n"})
    monkeypatch.chdir(tmp_path)
    found = collect("./dir/")
    assert [dict(labels)["file"] for name, labels in found if name == "node_textfile_mtime_seconds"] == ["dir/a.prom"]


# ---------------------------------------------------------------- hostile files


@pytest.mark.timeout(10)
def test_fifo_and_other_non_regular_entries_cost_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_tree(tmp_path, {"ok.prom": "ok 1\n", "target.txt": "linked 2\n"})
    os.mkfifo(tmp_path / "blocked.prom")  # no writer: opening it for reading would block forever
    (tmp_path / "dir.prom").mkdir()
    (tmp_path / "link.prom").symlink_to(tmp_path / "target.txt")  # a symlink to a regular file is read
    got = collect(str(tmp_path))
    assert got[("ok", ())] == 1 and got[("linked", ())] == 2
    assert got[("node_textfile_scrape_error", ())] == 1
    assert {dict(labels)["file"] for name, labels in got if name == "node_textfile_mtime_seconds"} == {
        str(tmp_path / "ok.prom"), str(tmp_path / "link.prom")}
    errors = [r for r in caplog.records if r.getMessage() == "failed to collect textfile data"]
    assert sorted(r.__dict__["file"] for r in errors) == ["blocked.prom", "dir.prom"]
    assert all("not a regular file" in r.__dict__["err"] for r in errors)


def test_size_limit(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = "m 1\n" + "# padding\n" * 10
    write_tree(tmp_path, {"small.prom": body, "big.prom": body + "#"})
    limit = len(body.encode())
    got = samples(TextfileCollector(str(tmp_path), max_bytes=limit).collect())
    assert got[("m", ())] == 1 and got[("node_textfile_scrape_error", ())] == 1
    assert "--collector.textfile.max-bytes" in caplog.records[-1].__dict__["err"]
    assert samples(TextfileCollector(str(tmp_path), max_bytes=0).collect())[("node_textfile_scrape_error", ())] == 0
    flagged = textfile.build(context(tmp_path, f"--collector.textfile.directory={tmp_path}",
                                     "--collector.textfile.max-bytes=5"))
    assert flagged.max_bytes == 5
    assert textfile.build(context(tmp_path)).max_bytes == textfile.DEFAULT_MAX_BYTES


def test_parse_checks_the_deadline() -> None:
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise TimeoutError("scrape deadline passed")

    text = "m 1\n" + "# comment\n" * (textfile.CHECK_EVERY * 5)
    with pytest.raises(TimeoutError):
        parse_text_format(text, check)
    assert len(calls) == 3


def test_deadline_stops_a_long_parse_in_the_runner(tmp_path: Path) -> None:
    from exporters.core.runner import CollectorRunner

    write_tree(tmp_path, {"slow.prom": "m 1\n" + "# comment\n" * (textfile.CHECK_EVERY * 30)})
    now = [0.0]

    def clock() -> float:
        now[0] += 1.0  # every look at the clock is a second later: the 10 s budget runs out mid-file
        return now[0]

    runner = CollectorRunner("node", {"textfile": TextfileCollector(str(tmp_path))}, parallel=False, clock=clock)
    try:
        got = samples(runner.collect(10.0, ["textfile"]))
    finally:
        runner.close()
    assert got[("node_scrape_collector_success", (("collector", "textfile"),))] == 0
    assert ("m", ()) not in got
