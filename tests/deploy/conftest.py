"""Helpers for the deployment tests: where deploy/ is, and the validators they run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.conftest import REPO, missing

DEPLOY = REPO / "deploy"


def tool(name: str) -> str:
    """Path of a validator: on PATH or beside this Python (a venv's bin/); skip or fail if absent."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        missing(f"tool {name}")
    assert found is not None
    return found


def run(argv: Sequence[str], cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a validator; the assertion message carries its whole output."""
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
