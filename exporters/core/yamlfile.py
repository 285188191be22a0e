"""YAML files as upstream reads them: tolerant at run time, strict in check modes.

What the Go version accepts, we serve: an unknown key, a repeated key or one broken entry
is reported with ``file:line``, logged, counted in a self-metric, and only what cannot run is
skipped. ``YamlReader`` walks a document (merge keys applied) and sorts what it finds into
warnings and errors (``Problem``); an entry that cannot be used raises ``EntryError``. A
check mode (``--check-queries``) reports them all; a file the Go version itself refuses at
start (exporter-toolkit's web config) uses ``Problems(strict=True)``: the first problem
raises ``ConfigError``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exporters.core.flags import ConfigError

if TYPE_CHECKING:
    import yaml

# a configuration file larger than this is refused: every input is bounded
MAX_FILE_BYTES = 4 << 20


@dataclass(frozen=True)
class Problem:
    """Something wrong in a file: an error costs its entry, a warning does not.

    ``severe``: served here, but the Go version fails a scrape on it, so a check mode fails on it.
    """

    where: str
    message: str
    error: bool = False
    severe: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {'error' if self.error or self.severe else 'warning'}: {self.message}"


class EntryError(Exception):
    """An entry that cannot be used; the message starts with ``file:line:``."""


class Problems:
    """What is wrong with one file: raised at once (``ConfigError``) when ``strict``, else collected."""

    def __init__(self, path: str, strict: bool = False) -> None:
        self.path = path
        self.strict = strict
        self.found: list[Problem] = []

    def where(self, node: yaml.Node | None) -> str:
        return f"{self.path}:{node.start_mark.line + 1}" if node is not None else self.path

    def add(self, node: yaml.Node | None, message: str, error: bool = False) -> None:
        self.append(Problem(self.where(node), message, error))

    def append(self, problem: Problem) -> None:
        if self.strict:
            raise ConfigError(f"{problem.where}: {problem.message}")
        self.found.append(problem)

    def unknown_keys(self, data: Mapping[str, Any], allowed: Collection[str], what: str = "") -> None:
        """Each key of ``data`` not in ``allowed`` (a parsed mapping: no line numbers)."""
        for key in data:
            if key not in allowed:
                self.add(None, f"{what + ': ' if what else ''}unknown key {key!r} "
                               f"(allowed: {', '.join(sorted(allowed))})")

    def log(self, logger: logging.Logger) -> None:
        for problem in self.found:
            logger.warning("configuration problem, ignored as upstream does",
                           extra={"problem": f"{problem.where}: {problem.message}"})

    def __len__(self) -> int:
        return len(self.found)


def read_text(path: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A configuration file's text, bounded; ``ConfigError`` naming the file when unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror or err}") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: larger than {max_bytes} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 at byte {err.start}") from None


def safe_load(path: str, text: str) -> Any:
    """The value of a YAML document (PyYAML's ``safe_load``); ``ConfigError`` naming the file
    and line when it is not YAML."""
    import yaml  # only when a file is read

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(err, 'problem', None) or err}") from None


class YamlReader:
    """Walks one YAML document as Go's YAML decoders read it, with ``file:line`` for each problem.

    Merge keys (``<<: *anchor``) are applied; a repeated key is a warning and the last one
    wins (yaml.v2 and v3); an unknown key is a warning. What cannot be used raises
    ``EntryError``: the caller skips that entry (an error) or the file.
    """

    def __init__(self, path: str, text: str, problems: Problems | None = None) -> None:
        """Parse ``text``; ``EntryError`` (``file:line: invalid YAML: ...``) when it is not YAML."""
        import yaml  # only when a file is read

        self.path = path
        self.problems = problems if problems is not None else Problems(path)
        try:
            self.loader = yaml.SafeLoader(text)
            self.root: yaml.Node | None = self.loader.get_single_node()
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
            line = f"{mark.line + 1}" if mark is not None else "1"
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise EntryError(f"{path}:{line}: invalid YAML: {problem}") from None

    def where(self, node: yaml.Node) -> str:
        return f"{self.path}:{node.start_mark.line + 1}"

    def warn(self, node: yaml.Node, message: str) -> None:
        self.problems.add(node, message)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """A mapping's entries by key, merge keys applied; a repeated key: the last wins."""
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise EntryError(f"{self.where(node)}: {what} must be a mapping, not {node_kind(node)}")
        try:
            self.loader.flatten_mapping(node)
        except yaml.YAMLError as err:
            raise EntryError(f"{self.where(node)}: {what}: {getattr(err, 'problem', None) or err}") from None
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node, f"a key of {what}")
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                self.warn(key_node, f"duplicate key {key!r} in {what} (first at line {first}); the last one is used, "
                                    "as upstream's YAML decoder does")
                del entries[key]
            entries[key] = (key_node, value_node)
        return entries

    def scalar(self, node: yaml.Node, what: str) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            raise EntryError(f"{self.where(node)}: {what} must be a scalar, not {node_kind(node)}")
        return str(node.value)

    def unknown(self, entries: Mapping[str, tuple[yaml.Node, yaml.Node]], known: Iterable[str], context: str) -> None:
        allowed = set(known)
        for key, (key_node, _) in entries.items():
            if key not in allowed:
                self.warn(key_node, f"unknown key {key!r} {context} is ignored, as upstream ignores it "
                                    f"(known: {', '.join(sorted(allowed))})")

    def boolean(self, node: yaml.Node, what: str) -> bool:
        if node.tag != "tag:yaml.org,2002:bool":
            raise EntryError(f"{self.where(node)}: {what} must be true or false")
        return bool(self.loader.construct_object(node))

    def number(self, node: yaml.Node, what: str) -> float:
        if node.tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
            raise EntryError(f"{self.where(node)}: {what} must be a number")
        value = float(self.loader.construct_object(node))
        if math.isnan(value) or math.isinf(value):
            raise EntryError(f"{self.where(node)}: {what} must be a finite number")
        return value


def node_kind(node: yaml.Node) -> str:
    name = type(node).__name__
    return {"MappingNode": "a mapping", "SequenceNode": "a list"}.get(name, "a scalar")
