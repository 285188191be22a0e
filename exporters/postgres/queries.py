"""The queries file (``--extend.query-path``): upstream's YAML format, validated strictly.

::

    pg_slow_query:                    # namespace: prefix of every family it produces
      query: "SELECT ..."
      master: true                    # only on the server named by the DSN (auto-discovery)
      cache_seconds: 30               # reuse the result for this long
      runonserver: ">=12.0.0"         # only on servers in this version range
      metrics:
        - datname:
            usage: LABEL
            description: "Name of the database"
        - count:
            usage: GAUGE
            description: "Sessions running a statement for more than 1s"

Usages: LABEL, DISCARD, COUNTER, GAUGE, HISTOGRAM (reads ``X``, ``X_bucket``, ``X_sum``,
``X_count``), MAPPEDMETRIC (text mapped to a number through ``metric_mapping``) and
DURATION (Go duration text or an interval, as ``<ns>_<column>_milliseconds``). A column
may carry ``pg_version`` (a range) to be read only on matching servers.

Unlike upstream, every mistake is refused with ``file:line: reason`` instead of being
dropped silently or turned into HTTP 500 at scrape time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exporters.postgres.versions import VersionRange, VersionRangeError, parse_range

USAGES = ("DISCARD", "LABEL", "COUNTER", "GAUGE", "HISTOGRAM", "MAPPEDMETRIC", "DURATION")
_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NAMESPACE_KEYS = {"query", "metrics", "master", "cache_seconds", "runonserver"}
_COLUMN_KEYS = {"usage", "description", "metric_mapping", "pg_version"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

if TYPE_CHECKING:
    import yaml
# PyYAML itself is imported when a file is parsed (see ``parse_queries``): a run without
# a queries file does not carry it. Nodes are told apart by their ``id``.
_SCALAR, _SEQUENCE, _MAPPING = "scalar", "sequence", "mapping"


def _node_id(node: yaml.Node) -> str:
    return str(getattr(node, "id", ""))


class QueriesError(Exception):
    """A queries file that cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class ColumnMapping:
    """How one result column becomes a label, a metric, or nothing."""

    name: str
    usage: str
    description: str = ""
    mapping: Mapping[str, float] | None = None
    versions: VersionRange | None = None
    line: int = 0

    def supported(self, version: tuple[int, int, int]) -> bool:
        return self.versions is None or self.versions(version)


@dataclass(frozen=True)
class Namespace:
    """One query and the mapping of its columns."""

    name: str
    query: str
    columns: Mapping[str, ColumnMapping]
    master: bool = False
    cache_seconds: float = 0.0
    runonserver: VersionRange | None = None
    source: str = ""

    def label_columns(self, version: tuple[int, int, int]) -> list[str]:
        return [c.name for c in self.columns.values() if c.usage == "LABEL" and c.supported(version)]

    def families(self) -> list[tuple[str, str, ColumnMapping]]:
        """(family name, type, column) for every column that produces a family."""
        out: list[tuple[str, str, ColumnMapping]] = []
        for col in self.columns.values():
            if col.usage in ("DISCARD", "LABEL"):
                continue
            if col.usage == "COUNTER":
                out.append((f"{self.name}_{col.name}", "counter", col))
            elif col.usage == "HISTOGRAM":
                out.append((f"{self.name}_{col.name}", "histogram", col))
            elif col.usage == "DURATION":
                out.append((f"{self.name}_{col.name}_milliseconds", "gauge", col))
            else:
                out.append((f"{self.name}_{col.name}", "gauge", col))
        return out

    def series_names(self) -> list[str]:
        """Every series name the namespace can write (histograms have three)."""
        names: list[str] = []
        for family, kind, _ in self.families():
            if kind == "histogram":
                names.extend(family + s for s in HISTOGRAM_SUFFIXES)
            else:
                names.append(family)
        return names

    def runs_on(self, version: tuple[int, int, int]) -> bool:
        return self.runonserver is None or self.runonserver(version)


@dataclass(frozen=True)
class QueryFile:
    """A loaded queries file."""

    path: str
    sha256: str
    namespaces: tuple[Namespace, ...] = field(default_factory=tuple)


def load_queries(
    path: str,
    reserved: Mapping[str, str] | None = None,
    reserved_prefixes: Iterable[str] = (),
    overridable: Iterable[str] = (),
) -> QueryFile:
    """Read and validate a queries file; raises ``QueriesError``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise QueriesError(f"{path}: cannot read queries file: {err.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise QueriesError(f"{path}: not UTF-8 text: {err.reason} at byte {err.start}") from None
    namespaces = parse_queries(text, path, reserved, reserved_prefixes, overridable)
    return QueryFile(path, hashlib.sha256(data).hexdigest(), namespaces)


def _where(path: str, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _scalar(path: str, node: yaml.Node, what: str) -> str:
    if not _node_id(node) == _SCALAR:
        raise QueriesError(f"{_where(path, node)}: {what} must be a scalar, not a {_kind(node)}")
    return str(node.value)


def _kind(node: yaml.Node) -> str:
    if _node_id(node) == _MAPPING:
        return "mapping"
    if _node_id(node) == _SEQUENCE:
        return "list"
    return "scalar"


def _mapping_items(path: str, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
    if not _node_id(node) == _MAPPING:
        raise QueriesError(f"{_where(path, node)}: {what} must be a mapping, not a {_kind(node)}")
    seen: dict[str, int] = {}
    items = []
    for key_node, value_node in node.value:
        key = _scalar(path, key_node, f"a key of {what}")
        if key in seen:
            raise QueriesError(
                f"{_where(path, key_node)}: duplicate key {key!r} in {what} (first at line {seen[key]})"
            )
        seen[key] = key_node.start_mark.line + 1
        items.append((key, key_node, value_node))
    return items


def _bool(path: str, node: yaml.Node, what: str) -> bool:
    if not _node_id(node) == _SCALAR or node.tag != "tag:yaml.org,2002:bool":
        raise QueriesError(f"{_where(path, node)}: {what} must be true or false")
    return str(node.value).lower() in ("true", "yes", "on", "y")


def _number(path: str, node: yaml.Node, what: str) -> float:
    if not _node_id(node) == _SCALAR or node.tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        raise QueriesError(f"{_where(path, node)}: {what} must be a number")
    try:
        return float(str(node.value).replace("_", ""))
    except ValueError:
        raise QueriesError(f"{_where(path, node)}: {what} must be a number") from None


def _range(path: str, node: yaml.Node, what: str) -> VersionRange:
    text = _scalar(path, node, what)
    try:
        return parse_range(text)
    except VersionRangeError as err:
        raise QueriesError(f"{_where(path, node)}: {what}: {err}") from None


def _known_keys(
    path: str, node: yaml.Node, allowed: Collection[str], what: str, context: str
) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """A mapping's entries by key; an unknown key is refused at its line."""
    entries = {key: (kn, vn) for key, kn, vn in _mapping_items(path, node, what)}
    for key, (kn, _) in entries.items():
        if key not in allowed:
            raise QueriesError(
                f"{_where(path, kn)}: unknown key {key!r} {context} (allowed: {', '.join(sorted(allowed))})"
            )
    return entries


def _column(path: str, name: str, key_node: yaml.Node, node: yaml.Node, ns: str) -> ColumnMapping:
    where = _where(path, key_node)
    if not _NAME.match(name):
        raise QueriesError(f"{where}: column {name!r} of {ns} is not a valid metric or label name")
    options = _known_keys(path, node, _COLUMN_KEYS, f"column {name!r} of {ns}", f"for column {name!r} of {ns}")
    if "usage" not in options:
        raise QueriesError(f"{where}: column {name!r} of {ns} has no usage")
    usage_node = options["usage"][1]
    usage = _scalar(path, usage_node, "usage")
    if usage not in USAGES:
        raise QueriesError(
            f"{_where(path, usage_node)}: unknown usage {usage!r} for column {name!r} of {ns} "
            f"(one of {', '.join(USAGES)})"
        )
    description = _scalar(path, options["description"][1], "description") if "description" in options else ""
    mapping: dict[str, float] | None = None
    if "metric_mapping" in options:
        mnode = options["metric_mapping"][1]
        if usage != "MAPPEDMETRIC":
            raise QueriesError(
                f"{_where(path, mnode)}: metric_mapping is only for usage MAPPEDMETRIC (column {name!r})"
            )
        mapping = {k: _number(path, vn, f"metric_mapping value of {k!r}")
                   for k, _, vn in _mapping_items(path, mnode, "metric_mapping")}
    if usage == "MAPPEDMETRIC" and not mapping:
        raise QueriesError(f"{where}: column {name!r} of {ns} has usage MAPPEDMETRIC but no metric_mapping")
    versions = _range(path, options["pg_version"][1], "pg_version") if "pg_version" in options else None
    return ColumnMapping(name, usage, description, mapping, versions, key_node.start_mark.line + 1)


def _namespace(path: str, name: str, key_node: yaml.Node, node: yaml.Node) -> Namespace:
    where = _where(path, key_node)
    if not _NAME.match(name):
        raise QueriesError(f"{where}: namespace {name!r} is not a valid metric name")
    fields = _known_keys(path, node, _NAMESPACE_KEYS, f"namespace {name!r}", f"in namespace {name!r}")
    if "query" not in fields:
        raise QueriesError(f"{where}: namespace {name!r} has no query")
    query = _scalar(path, fields["query"][1], "query").strip()
    if not query:
        raise QueriesError(f"{_where(path, fields['query'][1])}: namespace {name!r} has an empty query")
    if "metrics" not in fields:
        raise QueriesError(f"{where}: namespace {name!r} has no metrics")
    mnode = fields["metrics"][1]
    if not _node_id(mnode) == _SEQUENCE:
        raise QueriesError(f"{_where(path, mnode)}: metrics of {name!r} must be a list, not a {_kind(mnode)}")
    columns: dict[str, ColumnMapping] = {}
    for item in mnode.value:
        for col, kn, vn in _mapping_items(path, item, f"a metrics entry of {name!r}"):
            if col in columns:
                raise QueriesError(
                    f"{_where(path, kn)}: column {col!r} of {name!r} declared twice (first at line {columns[col].line})"
                )
            columns[col] = _column(path, col, kn, vn, name)
    if not any(c.usage not in ("LABEL", "DISCARD") for c in columns.values()):
        raise QueriesError(f"{_where(path, mnode)}: namespace {name!r} declares no metric column")
    master = _bool(path, fields["master"][1], "master") if "master" in fields else False
    cache = _number(path, fields["cache_seconds"][1], "cache_seconds") if "cache_seconds" in fields else 0.0
    if cache < 0:
        raise QueriesError(f"{_where(path, fields['cache_seconds'][1])}: cache_seconds must not be negative")
    runon = _range(path, fields["runonserver"][1], "runonserver") if "runonserver" in fields else None
    ns = Namespace(name, query, columns, master, cache, runon, where)
    _check_histograms(path, ns)
    return ns


def _check_histograms(path: str, ns: Namespace) -> None:
    words = set(re.findall(r"[A-Za-z0-9_]+", ns.query.lower()))
    for col in ns.columns.values():
        if col.usage != "HISTOGRAM":
            continue
        for suffix in HISTOGRAM_SUFFIXES:
            sibling = col.name + suffix
            declared = ns.columns.get(sibling)
            if declared is not None and declared.usage != "DISCARD":
                raise QueriesError(
                    f"{path}:{declared.line}: column {sibling!r} of {ns.name} is part of histogram "
                    f"{col.name!r} and cannot have usage {declared.usage}"
                )
            if sibling.lower() not in words:
                raise QueriesError(
                    f"{path}:{col.line}: HISTOGRAM column {col.name!r} of {ns.name} needs a sibling column "
                    f"{sibling!r} which the query does not produce"
                )


def parse_queries(
    text: str,
    path: str = "<queries>",
    reserved: Mapping[str, str] | None = None,
    reserved_prefixes: Iterable[str] = (),
    overridable: Iterable[str] = (),
) -> tuple[Namespace, ...]:
    """Parse and validate the text of a queries file.

    ``reserved`` maps the series names built-in collectors already export to who exports
    them (a namespace that would produce one is refused), ``reserved_prefixes`` are whole
    name spaces of them
    (``pg_settings_``). A namespace named like one of ``overridable`` (upstream's default
    metric namespaces) replaces it, as upstream allows.
    """
    import yaml  # only where a file is parsed (see the top of the module)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "1"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise QueriesError(f"{path}:{line}: invalid YAML: {problem}") from None
    if root is None:
        return ()
    namespaces: list[Namespace] = []
    for name, key_node, value_node in _mapping_items(path, root, "the queries file"):
        namespaces.append(_namespace(path, name, key_node, value_node))
    _check_collisions(path, namespaces, dict(reserved or {}), tuple(reserved_prefixes), set(overridable))
    return tuple(namespaces)


def _check_collisions(
    path: str, namespaces: list[Namespace], reserved: dict[str, str], prefixes: tuple[str, ...], overridable: set[str]
) -> None:
    owners: dict[str, Namespace] = {}
    for ns in namespaces:
        for series in ns.series_names():
            if series in reserved and ns.name not in overridable:
                raise QueriesError(f"{ns.source}: namespace {ns.name!r} would export {series}, "
                                   f"which {reserved[series]} already exports")
            if any(series.startswith(p) for p in prefixes):
                raise QueriesError(f"{ns.source}: namespace {ns.name!r} would export {series}, "
                                   "in a name space reserved for built-in metrics")
            other = owners.get(series)
            if other is not None:
                raise QueriesError(f"{ns.source}: namespace {ns.name!r} would export {series}, "
                                   f"which namespace {other.name!r} ({other.source}) already exports")
            owners[series] = ns
        for label in ns.columns.values():
            if label.usage == "LABEL" and label.name == "server":
                raise QueriesError(f"{path}:{label.line}: label column 'server' of {ns.name!r} clashes with "
                                   "the exporter's own server label")
