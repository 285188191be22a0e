"""--help-long and --help-man against node_exporter 1.9.0's (Debian 13) output shape.

The oracle is one version newer and built with Debian's kingpin: its boolean flags lack
kingpin v2.3.2's ``[no-]`` prefix, and a few flags' help or default changed after v1.7.0
(``FLAG_CHANGES``). Everything else must be byte-equal, flag by flag: the man page block
and the wrapped two-column rows.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from exporters.node import help as kingpin_help
from exporters.node.main import NOT_PROVIDED, build_parser, collector_specs
from tests.conftest import REPO, reference_binary
from tests.node.version_differences import FLAGS_ADDED_AFTER_V1_7_0

# Flags whose v1.7.0 presentation differs from 1.9.0's (Debian), and why.
FLAG_CHANGES = {
    "collector.diskstats.device-exclude": "1.8.0 added z?ram to the default (#2805)",
    "collector.filesystem.mount-points-exclude": "1.8.0 added mount-points-include (#2774): help mentions it",
    "collector.filesystem.fs-types-exclude": "1.8.0 added fs-types-include (#2774): help mentions it",
    "collector.textfile.directory": "1.8.0 made it repeatable with glob help (#2796); Debian sets a default path",
    "web.listen-address": "exporter-toolkit 0.11 added the Examples sentence",
    "web.config.file": "exporter-toolkit 0.11 dropped [EXPERIMENTAL]",
    "collector.netstat.fields": "1.8.0/1.9.0 added TCPOFOQueue (#2867) and TCPRcvQDrop (#3021) to the default",
    "collector.systemd": "Debian's build enables it by default (upstream: disabled)",
    "collector.systemd.unit-exclude": "Debian's build adds target to the default",
}


def _run(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "exporters.node", *args], capture_output=True, text=True,
                          timeout=30, cwd=REPO, env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"}, check=True).stdout


def _man_blocks(text: str) -> dict[str, str]:
    blocks = {}
    for match in re.finditer(r"\.TP\n\\fB(?:-h, )?--([^=\\]+)(=[^\n]*)?\\fR\n([^\n]*)\n", text):
        blocks[match.group(1)] = match.group(0)
    return blocks


def _long_rows(text: str) -> dict[str, tuple[str, list[str]]]:
    """flag name -> (its first column without kingpin v2.3's "[no-]", its help lines, stripped)."""
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines()[3:]:
        match = re.match(r"  (?:-h, |    )--(?:\[no-\])?([^= ]+)", line)
        if match:
            first, *help_start = re.split(r"\s{2,}", line.strip(), maxsplit=1)
            rows[match.group(1)] = (first.replace("[no-]", ""), [part for part in help_start if part])
        elif line.strip() and rows:
            rows[list(rows)[-1]][1].append(line.strip())
    return rows


@pytest.fixture(scope="module")
def oracle() -> tuple[str, str]:
    binary = reference_binary("node", "trixie")
    env = {"COLUMNS": "80"}
    man = subprocess.run([binary, "--help-man"], capture_output=True, text=True, timeout=30, env=env).stdout
    long = subprocess.run([binary, "--help-long"], capture_output=True, text=True, timeout=30, env=env).stdout
    return man.replace("prometheus-node-exporter", "node_exporter"), long.replace("prometheus-node-exporter",
                                                                                   "node_exporter")


@pytest.mark.timeout(60)
def test_man_page_matches_oracle_flag_by_flag(oracle: tuple[str, str]) -> None:
    ours = _run("--help-man")
    theirs_blocks, our_blocks = _man_blocks(oracle[0]), _man_blocks(ours)
    common = sorted(set(theirs_blocks) & set(our_blocks))
    differing = {name for name in common if theirs_blocks[name] != our_blocks[name]}
    unexplained = differing ^ set(FLAG_CHANGES)
    assert not unexplained, {n: (our_blocks.get(n), theirs_blocks.get(n)) for n in unexplained}
    assert len(common) > 100
    head = (".SH \"NAME\"\nnode_exporter\n.SH \"SYNOPSIS\"\n.TP\n\\fBnode_exporter [<flags>]\\fR\n\n"
            ".SH \"DESCRIPTION\"\n\n.SH \"OPTIONS\"\n.TP\n\\fB-h, --help\\fR\n")
    assert head in ours and head in oracle[0]
    assert ours.startswith(".TH node_exporter 1 node_exporter, version ") and ours.splitlines()[0].endswith(' ""')


@pytest.mark.timeout(60)
def test_long_help_matches_oracle_row_by_row(oracle: tuple[str, str]) -> None:
    ours = _run("--help-long")
    assert ours.startswith("usage: node_exporter [<flags>]\n\nFlags:\n  -h, --[no-]help ") and ours.endswith("\n\n")
    theirs_rows, our_rows = _long_rows(oracle[1]), _long_rows(ours)
    common = sorted(set(theirs_rows) & set(our_rows))
    differing = {name for name in common if theirs_rows[name] != our_rows[name]}
    assert differing == set(FLAG_CHANGES), {n: (our_rows[n], theirs_rows[n]) for n in differing ^ set(FLAG_CHANGES)}
    assert len(common) > 100


def test_wrap_matches_go_doc_on_every_oracle_help(oracle: tuple[str, str]) -> None:
    """go/doc's wrap, checked on the oracle's own texts: re-wrapping each help gives its lines."""
    rows = _long_rows(oracle[1])
    checked = 0
    for name, block in _man_blocks(oracle[0]).items():
        if name in rows:
            assert kingpin_help.to_text(block.split("\n")[-2], 80 - 29 - 2 - 2) == rows[name][1], name
            checked += 1
    assert checked > 150


@pytest.mark.parametrize(
    ("flag", "have_short", "expect"),
    [
        (kingpin_help.KingpinFlag("a.b", "h", boolean=True), True, "    --[no-]a.b"),
        (kingpin_help.KingpinFlag("help", "h", short="h", boolean=True), True, "-h, --[no-]help"),
        (kingpin_help.KingpinFlag("x", "h", default=("/m",), quoted=True), False, '--x="/m"'),
        (kingpin_help.KingpinFlag("x", "h", default=(r"^\d$",), quoted=True), False, r'--x="^\\d$"'),
        (kingpin_help.KingpinFlag("x", "h", default=("info",)), False, "--x=info"),
        (kingpin_help.KingpinFlag("x.y", "h"), False, "--x.y=X.Y"),
        (kingpin_help.KingpinFlag("x", "h", default=(":9100",), cumulative=True), False, "--x=:9100 ..."),
        (kingpin_help.KingpinFlag("x", "h", default=("a", "b"), cumulative=True), False, "--x=a... ..."),
    ],
)
def test_format_flag(flag: kingpin_help.KingpinFlag, have_short: bool, expect: str) -> None:
    assert kingpin_help.format_flag(flag, have_short) == expect


def test_wrap_prefers_punctuation_and_balance() -> None:
    words = "aaaa bbbb. cccc dddd eeee".split()
    assert kingpin_help.wrap(words, 15) == [["aaaa", "bbbb."], ["cccc", "dddd", "eeee"]]
    assert kingpin_help.wrap(["x" * 20, "y"], 10) == [["x" * 20], ["y"]]  # an overlong word stands alone
    assert kingpin_help.to_text("", 10) == [""]


def test_every_parser_flag_is_listed_once() -> None:
    parser = build_parser(collector_specs())
    flags = kingpin_help.kingpin_flags(parser, {s.name: s.enabled_by_default for s in collector_specs()})
    names = [f.name for f in flags]
    assert len(names) == len(set(names))
    assert names[0] == "help" and names[-1] == "version"
    assert {f.name for f in flags if f.hidden} == {"help-long", "collector.filesystem.mount-timeout",
                                                   "collector.filesystem.stat-workers"}


@pytest.mark.timeout(60)
def test_every_oracle_flag_is_ours_or_explained(oracle: tuple[str, str]) -> None:
    """Each flag 1.9.0 lists is accepted here, or belongs to a collector not provided, or came after v1.7.0."""
    parser = build_parser(collector_specs())
    ours = {option[2:] for action in parser._actions for option in action.option_strings if option.startswith("--")}
    theirs = set(re.findall(r"\\fB(?:-h, )?--([^=\\]+)", oracle[0]))
    not_provided = {name for name in theirs
                    if any(name == f"collector.{c}" or name.startswith(f"collector.{c}.") for c in NOT_PROVIDED)}
    assert theirs - ours - not_provided == set(FLAGS_ADDED_AFTER_V1_7_0)
    assert not set(FLAGS_ADDED_AFTER_V1_7_0) & ours
