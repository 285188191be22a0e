"""deploy/container: one image per exporter, each slotting in where the upstream image was.

No container engine runs here, so the Dockerfile is read instead: hadolint finds nothing, each
build target has the entrypoint, user, port, volumes and working directory of the upstream image
it replaces, and its ENTRYPOINT + CMD, run as a command line against this installation in the
image's working directory and environment, serves.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port
from tests.deploy.conftest import DEPLOY, EXECUTABLES, clean_env, exporter_argv, output, run, serving, tool

DOCKERFILE = DEPLOY / "container" / "Dockerfile"


@dataclass(frozen=True)
class Upstream:
    """What the upstream image's Dockerfile at the target tag sets (busybox's nobody is 65534:65534)."""

    kind: str
    entrypoint: str
    user: str
    port: int


# node_exporter v1.7.0 and postgres_exporter v0.15.0 Dockerfile: busybox, USER nobody, no VOLUME
# or WORKDIR; redis_exporter v1.58.0 docker/Dockerfile: scratch, USER 59000:59000.
UPSTREAM = {
    "node-exporter": Upstream("node", "/bin/node_exporter", "65534:65534", 9100),
    "postgres-exporter": Upstream("postgres", "/bin/postgres_exporter", "65534:65534", 9187),
    "redis-exporter": Upstream("redis", "/redis_exporter", "59000:59000", 9121),
}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, word: str) -> str | None:
        values = [args for w, args in self.instructions if w == word]
        return values[-1] if values else None


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


def stages() -> dict[str, Stage]:
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for word, args in instructions():
        if word == "FROM":
            base, _, name = args.partition(" AS ")
            current = found.setdefault(name.strip() or f"#{len(found)}", Stage(name.strip(), base.strip()))
        else:
            assert current is not None, f"{word} before FROM"
            current.instructions.append((word, args))
    return found


def chain(name: str) -> list[Stage]:
    """A target and the stages it builds on, base first: what the image inherits."""
    all_stages = stages()
    result = [all_stages[name]]
    while result[0].base in all_stages:
        result.insert(0, all_stages[result[0].base])
    return result


def inherited(name: str, word: str) -> list[str]:
    return [args for stage in chain(name) for w, args in stage.instructions if w == word]


def image_env(name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in inherited(name, "ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def test_hadolint_clean() -> None:
    hadolint = tool("hadolint")
    result = run([hadolint, "--no-color", "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)])
    assert result.returncode == 0, output(result)
    assert json.loads(result.stdout or "[]") == [], output(result)


def test_one_target_per_exporter() -> None:
    targets = {name for name, stage in stages().items() if stage.last("ENTRYPOINT")}
    assert targets == set(UPSTREAM)


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_image_conventions_are_upstreams(name: str) -> None:
    upstream = UPSTREAM[name]
    entrypoint = json.loads(inherited(name, "ENTRYPOINT")[-1])
    assert entrypoint == [upstream.entrypoint]
    assert not inherited(name, "CMD"), "upstream's images have no CMD: the arguments are only flags"
    user = inherited(name, "USER")[-1]
    assert user == upstream.user
    assert {int(p) for args in inherited(name, "EXPOSE") for p in args.split()} == {upstream.port}
    assert not inherited(name, "VOLUME")
    assert inherited(name, "WORKDIR")[-1] == "/"
    # the entrypoint is the console script of upstream's executable name
    links = [args for args in inherited(name, "RUN") if args.startswith("ln -s ")]
    assert f"ln -s /opt/exporters/bin/{EXECUTABLES[upstream.kind]} {upstream.entrypoint}" in links


def test_no_build_tools_in_the_images() -> None:
    for name in UPSTREAM:
        runtime = [stage for stage in chain(name) if stage.name != "build"]
        commands = " ".join(args for stage in runtime for w, args in stage.instructions if w == "RUN")
        for word in ("apt-get", "apk ", "gcc", "build-essential", "pip install", "make "):
            assert word not in commands, (name, word)
        # the images take the built environment from the build stage, not from the context
        copies = [args for stage in runtime for w, args in stage.instructions if w == "COPY"]
        assert any(args.startswith("--from=build /opt/exporters") for args in copies), name


def test_copied_sources_exist() -> None:
    for word, args in instructions():
        if word == "COPY" and not args.startswith("--from"):
            *sources, _dest = args.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_entrypoint_serves(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """`docker run IMAGE` with only the data source set, as a command line: the exporter serves."""
    upstream = UPSTREAM[name]
    env = clean_env(**{k: v for k, v in image_env(name).items() if k != "PATH"})
    if upstream.kind == "postgres":
        env["DATA_SOURCE_NAME"] = request.getfixturevalue("postgres_dsn")
    if upstream.kind == "redis":
        env["REDIS_ADDR"] = request.getfixturevalue("redis_url")
    port = free_port()
    # the image listens on upstream's port on every address; here a free loopback port stands in
    flag = "-web.listen-address" if upstream.kind == "redis" else "--web.listen-address"
    argv = [*exporter_argv(upstream.kind), f"{flag}=127.0.0.1:{port}"]
    workdir = Path(inherited(name, "WORKDIR")[-1])
    with serving(argv, env, port, workdir, tmp_path / "exporter.log", upstream.kind) as body:
        assert body
