"""What the start of ``python -m exporters.node`` leaves out or defers, without changing what it does."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys

import pytest

from exporters.core.flags import HelpFormatter, terminal_columns
from exporters.node import main as node_main


@pytest.mark.parametrize("columns", ["100", "7", "0", "-3", "wide", None])
def test_terminal_columns_are_shutils(columns: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
    assert HelpFormatter("node_exporter")._width == shutil.get_terminal_size().columns - 2
    assert HelpFormatter("node_exporter", width=50)._width == 50


@pytest.mark.timeout(60)
def test_building_the_command_line_imports_neither_shutil_nor_the_help_pages() -> None:
    script = ("import sys\n"
              "from exporters.node.main import build_parser\n"
              "build_parser().parse_args([])\n"
              "print(sorted({'shutil', 'bz2', 'lzma', 'exporters.node.help'} & set(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50, check=True)
    assert done.stdout.strip() == "[]"


def test_gc_resumes_once_the_app_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m exporters.node`` pauses the cyclic GC for the start; building the app turns it back on."""
    built = object()
    monkeypatch.setattr(node_main, "build_app", lambda settings, runtime: built)
    gc.disable()
    try:
        assert node_main._built_then_gc(None, None) is built  # type: ignore[arg-type]
        assert gc.isenabled()
    finally:
        gc.enable()


def test_gc_resumes_when_the_command_line_is_refused() -> None:
    gc.disable()
    try:
        with pytest.raises(SystemExit):
            node_main.main(["--no-such-flag"])
        assert gc.isenabled()
    finally:
        gc.enable()
