"""YAML files as upstream reads them: tolerant at run time, strict in check modes.

What the Go version accepts, we serve: an unknown key, a repeated key or one broken entry
is reported with ``file:line``, logged, counted in a self-metric, and only what cannot run is
skipped. A check mode (``--check-queries``) or a file the Go version itself refuses at start
(exporter-toolkit's web config) passes ``strict=True``: the first problem raises
``ConfigError``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from exporters.core.flags import ConfigError

if TYPE_CHECKING:
    import yaml

# a configuration file larger than this is refused: every input is bounded
MAX_FILE_BYTES = 4 << 20


class Problems:
    """What is wrong with one file: raised at once when ``strict``, else collected."""

    def __init__(self, path: str, strict: bool) -> None:
        self.path = path
        self.strict = strict
        self.found: list[str] = []

    def where(self, node: yaml.Node | None) -> str:
        return f"{self.path}:{node.start_mark.line + 1}" if node is not None else self.path

    def add(self, node: yaml.Node | None, message: str) -> None:
        text = f"{self.where(node)}: {message}"
        if self.strict:
            raise ConfigError(text)
        self.found.append(text)

    def unknown_keys(self, data: Mapping[str, Any], allowed: Collection[str], what: str) -> None:
        """Each key of ``data`` not in ``allowed`` (a parsed mapping: no line numbers)."""
        for key in data:
            if key not in allowed:
                self.add(None, f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")

    def log(self, logger: logging.Logger) -> None:
        for text in self.found:
            logger.warning("configuration problem, ignored as upstream does", extra={"problem": text})

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


def compose(path: str, text: str) -> yaml.Node | None:
    """The YAML node tree (with line numbers) of one document; ``ConfigError`` when it is not YAML."""
    import yaml  # only when a file is read

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise ConfigError(f"{where}: {getattr(err, 'problem', None) or err}") from None


def known_keys(
    node: yaml.Node, allowed: Collection[str], what: str, problems: Problems
) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping node's entries by key; an unknown, repeated or non-text key is a problem, skipped."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        problems.add(node, f"{what}: expected a mapping")
        return {}
    entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            problems.add(key_node, f"{what}: a key must be text")
            continue
        key = str(key_node.value)
        if key not in allowed:
            problems.add(key_node, f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
            continue
        if key in entries:
            # yaml.v2 and v3 both keep the last one; say so
            problems.add(key_node, f"{what}: key {key!r} repeated, the last one is used")
        entries[key] = (key_node, value_node)
    return entries
