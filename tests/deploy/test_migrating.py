"""MIGRATING.md cannot drift: it is what tests/deploy/migrating.py generates from the tables, and
the Debian defaults it states are what Debian's binaries print in their --help."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import GENERATIONS, reference_binary
from tests.deploy import migrating

KINDS = migrating.KINDS
BOOL = ("enabled", "disabled")


def help_text(argv: list[str]) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATA_SOURCE_", "PG_EXPORTER_"))}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30, check=False)
    return done.stdout + done.stderr


# `--flag`, `--flag="quoted"` or `--flag=bare`, a repeatable flag's " ...", then the help or the line's end
FLAG_LINE = re.compile(r'^\s+(?:-\w, )?(--[\w.-]+)(?:=(?:"((?:[^"\\]|\\.)*)"|(\S+)))?(?: \.\.\.)?(?:\s{2,}|\s*$)')


def kingpin_defaults(text: str) -> dict[str, str | None]:
    """--flag -> default from kingpin's --help: `--flag="x"`, `--flag=40`, "(default: enabled)"; None if none."""
    found: dict[str, str | None] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = FLAG_LINE.match(line)
        if not match:
            continue
        flag, quoted, bare = match.groups()
        if quoted is not None:
            found[flag] = quoted.encode().decode("unicode_escape")
        elif bare is not None and not re.fullmatch(r"[A-Z0-9._-]*[A-Z][A-Z0-9._-]*", bare):
            found[flag] = bare  # a number or duration; an upper-case word is a placeholder
        else:
            block = " ".join(part.strip() for part in lines[index:index + 3])
            enabled = re.search(r"Enable the \S+ collector \(default: (enabled|disabled)\)", block)
            found[flag] = enabled.group(1) if enabled and bare is None else None
    return found


def goflag_defaults(text: str) -> dict[str, str | None]:
    """-flag -> default from Go's flag package --help: "(default x)", false for a bare bool, else None."""
    found: dict[str, str | None] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^  -([\w.-]+)(?: (\w+))?$", line)
        if not match:
            continue
        usage = []
        for follow in lines[index + 1:]:
            if not follow.startswith("    \t"):
                break
            usage.append(follow.strip())
        default = re.search(r'\(default ("?)(.*)\1\)$', " ".join(usage))
        found[f"-{match.group(1)}"] = default.group(2) if default else ("false" if match.group(2) is None else None)
    return found


def ours_defaults(kind: str) -> dict[str, str | None]:
    """The defaults our --help displays ("(default: X)" or "(default X)"), None where it shows none."""
    text = help_text([sys.executable, "-m", "exporters", kind, "--help"])
    blocks: dict[str, str] = {}
    flag = None
    for line in text.splitlines():
        match = re.match(r"^  (-{1,2}[\w.-]+)", line)
        if match:
            flag = "-" + match.group(1).lstrip("-") if kind == "redis" else match.group(1)
            blocks[flag] = ""
            line = line[match.end():]
        if flag:
            # argparse wraps at spaces, and inside long words: joining the stripped lines undoes both
            blocks[flag] += line.strip()
    return {name: displayed_default(block) for name, block in blocks.items()}


def displayed_default(block: str) -> str | None:
    """X in "(default: X)" or "(default X)"; X may hold parentheses (regular expressions)."""
    start = block.find("(default")
    if start < 0:
        return None
    depth, end = 0, len(block)
    for offset, char in enumerate(block[start:]):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            end = start + offset
            break
    # our help may name the environment variable after the default: "(default: X; env: NAME)"
    return re.sub(r"; ?env: ?\S+$", "", re.sub(r"^\(default:? ?", "", block[start:end]))


def squeeze(value: str | None) -> str | None:
    return None if value in (None, "") else re.sub(r"\s+", "", str(value))


def test_migrating_md_is_generated_from_the_tables() -> None:
    assert migrating.OUTPUT.read_text() == migrating.render(), (
        "MIGRATING.md differs from the tables: run `python -m tests.deploy.migrating --write`")


def test_table_rows_are_complete() -> None:
    data = migrating.load_table()
    assert set(data["exporters"]) == set(KINDS)
    for row in data["deliberate"]:
        assert row["exporter"] in ("all", *KINDS), row
        assert row["difference"] and row["why"] and row["change"], row
    for row in data["debian_defaults"]:
        assert row["exporter"] in KINDS and row["flag"].startswith("-") and row["change"], row
        assert set(row["debian"]) == set(GENERATIONS), row
    # every exporter's version table was read (an adapter that finds nothing is broken)
    assert {row.exporter for row in migrating.version_rows()} == set(KINDS)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("generation", GENERATIONS)
def test_debian_defaults_are_the_packages(kind: str, generation: str) -> None:
    """Each stated Debian default is the binary's; every default the binary and our --help both
    show that differs is stated (ours is checked where our --help shows it)."""
    text = help_text([reference_binary(kind, generation), "--help"])
    debian = goflag_defaults(text) if kind == "redis" else kingpin_defaults(text)
    assert len(debian) > 10, text[:2000]
    ours = ours_defaults(kind)
    rows = {row["flag"]: row for row in migrating.load_table()["debian_defaults"] if row["exporter"] == kind}
    for flag, row in rows.items():
        assert squeeze(debian.get(flag)) == squeeze(row["debian"][generation]), (flag, debian.get(flag))
        if flag in ours and (ours[flag] is not None or row["ours"] in BOOL):
            assert squeeze(ours.get(flag)) == squeeze(row["ours"]), (flag, ours.get(flag))
    unstated = {flag: (value, ours[flag]) for flag, value in debian.items()
                if value is not None and ours.get(flag) is not None and squeeze(value) != squeeze(ours[flag])
                and flag not in rows}
    assert unstated == {}, "Debian defaults that differ from ours and are not in MIGRATING.yaml (Debian, ours)"
