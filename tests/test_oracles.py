"""The reference binaries the comparisons run: both generations are present and are the versions named."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import reference_binary

EXPECTED = [
    ("node", "bookworm", "1.5.0"),
    ("postgres", "bookworm", "0.11.1"),
    ("redis", "bookworm", "1.45.0"),
    ("node", "trixie", "1.9.0"),
    ("postgres", "trixie", "0.17.1"),
    ("redis", "trixie", "1.69.0"),
    ("prometheus", "trixie", "2.53.3"),
    ("promtool", "trixie", "2.53.3"),
]


@pytest.mark.parametrize(("name", "generation", "version"), EXPECTED)
def test_reference_version(name: str, generation: str, version: str) -> None:
    binary = reference_binary(name, generation)
    flag = "-version" if name == "redis" else "--version"
    out = subprocess.run([binary, flag], capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    found = re.search(r"(?:version|Version|Exporter)[ :]+v?(\d+\.\d+\.\d+)", text)
    assert found is not None, text
    assert found.group(1) == version
