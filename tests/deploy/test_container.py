"""deploy/container: one multi-stage, non-root image; hadolint finds nothing, not even style."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO
from tests.deploy.conftest import DEPLOY, output, run, tool

DOCKERFILE = DEPLOY / "container" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def test_hadolint_clean() -> None:
    hadolint = tool("hadolint")
    result = run([hadolint, "--no-color", "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)])
    assert result.returncode == 0, output(result)
    assert json.loads(result.stdout or "[]") == [], output(result)


def test_multi_stage_non_root_entrypoint() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    final = all_stages[-1]
    users = [args for word, args in final if word == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"0", "root"}
    entrypoints = [args for word, args in final if word == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["exporters"]
    exposed = {int(p) for word, args in final if word == "EXPOSE" for p in args.split()}
    assert exposed == {9100, 9187, 9121}


def test_no_build_tools_in_final_stage() -> None:
    final = stages()[-1]
    commands = " ".join(args for word, args in final if word == "RUN")
    for word in ("apt-get", "apk ", "gcc", "build-essential", "pip install", "make "):
        assert word not in commands, word
    # the final stage takes the built environment from the build stage, not from the context
    copies = [args for word, args in final if word == "COPY"]
    assert any(args.startswith("--from=build /opt/exporters") for args in copies)


def test_copied_sources_exist() -> None:
    for word, args in instructions():
        if word == "COPY" and not args.startswith("--from"):
            *sources, _dest = args.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
