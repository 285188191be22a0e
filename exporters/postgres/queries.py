"""The queries file (``--extend.query-path``): upstream's YAML format, read as upstream reads it.

::

    pg_slow_query:                    # namespace: prefix of every family it produces
      query: "SELECT ..."
      master: true                    # only on the database the DSN names (auto-discovery)
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
DURATION (Go duration text, as ``<ns>_<column>_milliseconds``). A column may carry
``pg_version`` (a range; ours) to be read only on matching servers.

Tolerant, as the Go binary is: what postgres_exporter serves, this serves. A repeated key
is resolved as Go's YAML decoder resolves it (the last one wins), an unknown key is ignored,
YAML merge keys and anchors work; each is a *warning*. An entry that cannot run (a bad
usage, a histogram without its sibling columns, an invalid name) is an *error*: that entry
is skipped, the rest served. Every problem carries ``file:line``; ``--check-queries``
prints them all and fails on errors. The YAML walk (merge keys, repeated and unknown keys,
warnings and errors) is core's ``YamlReader``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exporters.core.flags import ConfigError
from exporters.core.yamlfile import EntryError, Problem, YamlReader, node_kind, read_text
from exporters.postgres.engine import HISTOGRAM_SUFFIXES, USAGES, ColumnMap, MetricMap
from exporters.postgres.versions import Version, VersionRange, VersionRangeError, parse_range

_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
NAMESPACE_KEYS = ("query", "metrics", "master", "cache_seconds", "runonserver")
COLUMN_KEYS = ("usage", "description", "metric_mapping", "pg_version")
MAX_FILE_BYTES = 16 * 1024 * 1024

if TYPE_CHECKING:
    import yaml
# PyYAML itself is imported when a file is parsed (see ``parse_queries``): a run without
# a queries file does not carry it.


QueriesError = EntryError  # an entry that cannot run


@dataclass(frozen=True)
class Namespace:
    """One query and the map of its columns."""

    name: str
    query: str
    metrics: MetricMap
    master: bool = False
    cache_seconds: float = 0.0
    runonserver: VersionRange | None = None
    source: str = ""

    def runs_on(self, version: Version) -> bool:
        return self.runonserver is None or self.runonserver(version)

    def series_names(self) -> list[str]:
        return self.metrics.series_names()


@dataclass(frozen=True)
class QueryFile:
    """A loaded queries file: the namespaces that can run and what was wrong."""

    path: str
    sha256: str
    namespaces: tuple[Namespace, ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> list[Problem]:
        """The problems that cost an entry."""
        return [p for p in self.problems if p.error]

    @property
    def check_failures(self) -> list[Problem]:
        """What ``--check-queries`` fails on: errors, and what upstream would answer 500 for."""
        return [p for p in self.problems if p.error or p.severe]


def load_queries(
    path: str,
    reserved: Mapping[str, str] | None = None,
    shared: Mapping[str, str] | None = None,
    overridable: Iterable[str] = (),
) -> QueryFile:
    """Read a queries file; never raises: an unreadable file is one error and no namespaces."""
    try:
        text = read_text(path, MAX_FILE_BYTES)
    except ConfigError as err:
        return QueryFile(path, _digest(path), (), (Problem(path, f"cannot read queries file: {err}", True),))
    namespaces, problems = parse_queries(text, path, reserved, shared, overridable)
    import hashlib  # only with --extend.query-path: _hashlib is ~0.5 MiB resident

    return QueryFile(path, hashlib.sha256(text.encode("utf-8")).hexdigest(), namespaces, tuple(problems))


def _digest(path: str) -> str:
    """The sha256 of what is there (``pg_exporter_user_queries_load_error``'s hashsum label)."""
    import hashlib

    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read(MAX_FILE_BYTES + 1)).hexdigest()
    except OSError:
        return ""


def _version_range(reader: YamlReader, node: yaml.Node, what: str) -> VersionRange:
    text = reader.scalar(node, what)
    try:
        return parse_range(text)
    except VersionRangeError as err:
        raise QueriesError(f"{reader.where(node)}: {what}: {err}") from None


def _column(reader: YamlReader, name: str, key_node: yaml.Node, node: yaml.Node, ns: str) -> ColumnMap:
    where = reader.where(key_node)
    if not _NAME.match(name):
        raise QueriesError(f"{where}: column {name!r} of {ns} is not a valid metric or label name")
    if name == "server":
        raise QueriesError(f"{where}: column 'server' of {ns} clashes with the exporter's own server label")
    options = reader.mapping(node, f"column {name!r} of {ns}")
    reader.unknown(options, COLUMN_KEYS, f"for column {name!r} of {ns}")
    if "usage" not in options:
        raise QueriesError(f"{where}: column {name!r} of {ns} has no usage")
    usage_node = options["usage"][1]
    usage = reader.scalar(usage_node, "usage")
    if usage not in USAGES:
        raise QueriesError(f"{reader.where(usage_node)}: unknown usage {usage!r} for column {name!r} of {ns} "
                           f"(one of {', '.join(USAGES)})")
    description = reader.scalar(options["description"][1], "description") if "description" in options else ""
    mapping: dict[str, float] | None = None
    if "metric_mapping" in options:
        mnode = options["metric_mapping"][1]
        mapping = {k: reader.number(vn, f"metric_mapping value of {k!r}")
                   for k, (_, vn) in reader.mapping(mnode, "metric_mapping").items()}
        if usage != "MAPPEDMETRIC":
            reader.warn(mnode, f"metric_mapping of column {name!r} is ignored: its usage is {usage}, not MAPPEDMETRIC")
    if usage == "MAPPEDMETRIC" and not mapping:
        reader.warn(key_node, f"column {name!r} of {ns} has usage MAPPEDMETRIC but no metric_mapping: "
                              "it never exports a value")
    versions = _version_range(reader, options["pg_version"][1], "pg_version") if "pg_version" in options else None
    return ColumnMap(name, usage, description, mapping, versions, line=key_node.start_mark.line + 1)


def _namespace(reader: YamlReader, name: str, key_node: yaml.Node, node: yaml.Node) -> Namespace:
    import yaml

    where = reader.where(key_node)
    if not _NAME.match(name):
        raise QueriesError(f"{where}: namespace {name!r} is not a valid metric name")
    fields = reader.mapping(node, f"namespace {name!r}")
    reader.unknown(fields, NAMESPACE_KEYS, f"in namespace {name!r}")
    if "query" not in fields:
        raise QueriesError(f"{where}: namespace {name!r} has no query")
    query = reader.scalar(fields["query"][1], "query").strip()
    if not query:
        raise QueriesError(f"{reader.where(fields['query'][1])}: namespace {name!r} has an empty query")
    if "metrics" not in fields:
        raise QueriesError(f"{where}: namespace {name!r} has no metrics")
    mnode = fields["metrics"][1]
    if not isinstance(mnode, yaml.SequenceNode):
        raise QueriesError(f"{reader.where(mnode)}: metrics of {name!r} must be a list, not {node_kind(mnode)}")
    columns: dict[str, ColumnMap] = {}
    for item in mnode.value:
        for col, (kn, vn) in reader.mapping(item, f"a metrics entry of {name!r}").items():
            if col in columns:
                reader.warn(kn, f"column {col!r} of {name!r} declared twice (first at line {columns[col].line}); "
                                "the last one is used")
                del columns[col]
            columns[col] = _column(reader, col, kn, vn, name)
    master = reader.boolean(fields["master"][1], "master") if "master" in fields else False
    cache = reader.number(fields["cache_seconds"][1], "cache_seconds") if "cache_seconds" in fields else 0.0
    if cache < 0:
        raise QueriesError(f"{reader.where(fields['cache_seconds'][1])}: cache_seconds must not be negative")
    runon = _version_range(reader, fields["runonserver"][1], "runonserver") if "runonserver" in fields else None
    ns = Namespace(name, query, MetricMap(name, columns), master, cache, runon, where)
    if not any(c.usage not in ("LABEL", "DISCARD") for c in columns.values()):
        reader.warn(key_node, f"namespace {name!r} declares no metric column: only columns the map does not name "
                              "are exported (untyped)")
    _check_histograms(reader, ns)
    return ns


def _check_histograms(reader: YamlReader, ns: Namespace) -> None:
    words = set(re.findall(r"[A-Za-z0-9_]+", ns.query.lower()))
    for col in ns.metrics.columns.values():
        if col.usage != "HISTOGRAM":
            continue
        for suffix in HISTOGRAM_SUFFIXES:
            sibling = col.name + suffix
            declared = ns.metrics.columns.get(sibling)
            if declared is not None and declared.usage != "DISCARD":
                reader.problems.append(Problem(
                    f"{reader.path}:{declared.line}", f"column {sibling!r} of {ns.name} is part of histogram "
                    f"{col.name!r}: its usage {declared.usage} is ignored"))
            if sibling.lower() not in words and "*" not in ns.query:
                raise QueriesError(f"{reader.path}:{col.line}: HISTOGRAM column {col.name!r} of {ns.name} needs a "
                                   f"sibling column {sibling!r} which the query does not produce")


def parse_queries(
    text: str,
    path: str = "<queries>",
    reserved: Mapping[str, str] | None = None,
    shared: Mapping[str, str] | None = None,
    overridable: Iterable[str] = (),
) -> tuple[tuple[Namespace, ...], list[Problem]]:
    """The namespaces of a queries file that can run, and every problem found.

    ``reserved`` maps the exporter's own series names to their owner: a namespace that
    would write one is an error. ``shared`` maps series names the built-in collectors
    write: a namespace may write them too (upstream serves both sets, told apart by the
    ``server`` label), with a warning. A namespace named like one of ``overridable``
    (upstream's built-in namespaces) replaces it, as upstream allows.
    """
    try:
        reader = YamlReader(path, text)  # PyYAML is imported only here (see the top of the module)
    except EntryError as err:
        return (), [Problem(*_split(str(err)), True)]
    root = reader.root
    if root is None:
        return (), []
    namespaces: list[Namespace] = []
    try:
        entries = reader.mapping(root, "the queries file")
    except QueriesError as err:
        return (), [Problem(*_split(str(err)), True)]
    for name, (key_node, value_node) in entries.items():
        try:
            namespaces.append(_namespace(reader, name, key_node, value_node))
        except QueriesError as err:
            reader.problems.append(Problem(*_split(str(err)), True))
    kept = _check_collisions(reader, namespaces, dict(reserved or {}), dict(shared or {}), set(overridable))
    return tuple(kept), sorted(reader.problems.found, key=_line_order)


def _split(message: str) -> tuple[str, str]:
    where, _, rest = message.partition(": ")
    return where, rest


def _line_order(problem: Problem) -> tuple[str, int]:
    path, _, line = problem.where.rpartition(":")
    return (path, int(line)) if line.isdigit() else (problem.where, 0)


def _check_collisions(
    reader: YamlReader, namespaces: list[Namespace], reserved: dict[str, str], shared: dict[str, str],
    overridable: set[str],
) -> list[Namespace]:
    owners: dict[str, Namespace] = {}
    kept: list[Namespace] = []
    for ns in namespaces:
        clash = next((s for s in ns.series_names() if s in reserved), None)
        if clash is not None:
            reader.problems.append(Problem(ns.source, f"namespace {ns.name!r} would export {clash}, which "
                                                      f"{reserved[clash]} exports; the namespace is skipped", True))
            continue
        kept.append(ns)
        for series in ns.series_names():
            if series in shared and ns.name not in overridable:
                reader.problems.append(Problem(ns.source, f"namespace {ns.name!r} also exports {series}, as "
                                                          f"{shared[series]} does: both are served, as upstream "
                                                          "serves them (they differ by the server label)"))
                break
            other = owners.get(series)
            if other is not None:
                reader.problems.append(Problem(ns.source, f"namespace {ns.name!r} would export {series}, which "
                                                          f"namespace {other.name!r} ({other.source}) exports too: "
                                                          "a repeated series is dropped (upstream answers 500)",
                                               severe=True))
                break
            owners[series] = ns
    return kept
