"""docs/metrics.md, the metrics reference, generated from the code.

Every family of every exporter with its type, labels, help, the collector that emits it and
where its values come from:

* node: what each collector emits on the fixture tree (tests/fixtures/node, with the flags
  of tests/node/golden.py's rows), each collector's ``SPEC.source`` and its ``SPEC.families``
  declarations (patterns for names that come from data, a source per family where a
  collector reads several, the families no fixture makes it emit);
* postgres: the collectors' and built-in namespaces' ``MetricMap``s and queries (per server
  version), and the exporter's own declarations;
* redis: the INFO field tables (``exporters.redis.info``) and the collectors'
  ``SPEC.families``;
* every exporter: the process and HTTP handler families of ``exporters.core.selfmetrics``.

``python -m tests.docs.reference --write`` rewrites docs/metrics.md; tests/docs/test_reference.py
fails when the file drifts from the code, or when a family that ours serves (golden, live) is
missing from it. ``lookup(rows, exporter, name)`` finds the row of a family name.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache

from prometheus_client.parser import text_string_to_metric_families

from exporters.core.collector import CollectorSpec, FamilyDoc
from tests.conftest import REPO

OUTPUT = REPO / "docs" / "metrics.md"
EXPORTERS = ("node", "postgres", "redis")
TITLES = {"node": "node_exporter (:9100)", "postgres": "postgres_exporter (:9187)", "redis": "redis_exporter (:9121)"}
SUFFIXES = ("_bucket", "_sum", "_count", "_created")
PLACEHOLDER = re.compile(r"<([A-Za-z][A-Za-z0-9_]*)>")


@dataclass(frozen=True)
class Row:
    """One family (or pattern of families) of the reference."""

    exporter: str
    collector: str
    name: str
    type: str
    labels: tuple[str, ...]
    help: str
    source: str = ""
    examples: tuple[str, ...] = ()


@dataclass
class Section:
    """One collector (or one group of families) of an exporter."""

    exporter: str
    name: str
    intro: str
    rows: list[Row] = field(default_factory=list)
    details: str = ""
    source: str = ""  # said in the intro: the rows with another source show theirs


@dataclass(frozen=True)
class Observed:
    type: str
    help: str
    labels: tuple[str, ...] | None  # None: not known (a literal family with computed label names)


QUIET = logging.getLogger("exporters.docs")
QUIET.disabled = True


class ReferenceError(ValueError):
    """A declaration contradicts what the collector emits, or says too little."""


@cache
def pattern_regex(name: str) -> re.Pattern[str]:
    """The regex of a family name with ``<Placeholders>`` (each one or more name characters)."""
    parts = PLACEHOLDER.split(name)
    out = []
    for i, part in enumerate(parts):
        out.append(f"(?P<{part}>[A-Za-z0-9_:]+?)" if i % 2 else re.escape(part))
    return re.compile("".join(out))


def is_pattern(name: str) -> bool:
    return PLACEHOLDER.search(name) is not None


def matches(name: str, family: str) -> bool:
    """True when ``family`` is ``name`` or one of the names of the pattern ``name``."""
    return name == family or (is_pattern(name) and pattern_regex(name).fullmatch(family) is not None)


# ---------------------------------------------------------------- observed exposition


def observe(text: str) -> dict[str, Observed]:
    """Family name (as in ``# HELP``) -> type, help and label names, from exposition text."""
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, rest = line[7:].partition(" ")
            helps[name] = rest.replace("\\n", "\n").replace("\\\\", "\\")
        elif line.startswith("# TYPE "):
            name, _, rest = line[7:].partition(" ")
            types[name] = rest
    labels: dict[str, dict[str, None]] = {name: {} for name in helps}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            owner = _owner(sample.name, helps)
            if owner is not None:
                labels[owner].update(dict.fromkeys(k for k in sample.labels if k not in ("le", "quantile")))
    return {name: Observed(types.get(name, "untyped"), help_text, tuple(labels[name]))
            for name, help_text in helps.items()}


def _owner(sample: str, families: dict[str, str]) -> str | None:
    if sample in families:
        return sample
    for suffix in SUFFIXES:
        if sample.endswith(suffix) and sample[: -len(suffix)] in families:
            return sample[: -len(suffix)]
    return None


def _pattern_help(pattern: str, family: str, help_text: str) -> str:
    match = pattern_regex(pattern).fullmatch(family)
    if match is None:
        return help_text
    for key, value in sorted(match.groupdict().items(), key=lambda kv: -len(kv[1])):
        if len(value) >= 2:
            help_text = help_text.replace(value, f"<{key}>")
    return help_text


# constructor -> (type, position of the label names among the positional arguments)
CONSTRUCTORS = {
    "GaugeFamily": ("gauge", None), "CounterFamily": ("counter", None), "InfoFamily": ("gauge", 2),
    "exact_gauge": ("gauge", 2), "exact_counter": ("counter", 2), "exact_untyped": ("untyped", 2),
    "HistogramFamily": ("histogram", 2), "SummaryFamily": ("summary", 2),
}


def literal_families(module: object) -> dict[str, Observed]:
    """The families a module builds with literal arguments (``GaugeFamily("node_x", "help", labels=[...])``):
    name -> type, help and labels, where each is a literal (help "" and labels () when not)."""
    try:
        tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    except (OSError, TypeError):
        return {}
    out: dict[str, Observed] = {}
    constants: dict[str, tuple[str, ...] | None] = {}  # name -> its literal list (None: assigned twice)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and _strings(node.value) is not None):
            name = node.targets[0].id
            constants[name] = _strings(node.value) if name not in constants else None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if func not in CONSTRUCTORS or len(node.args) < 2:
            continue
        name, help_node = node.args[0], node.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            continue
        typ, label_at = CONSTRUCTORS[func]
        full = name.value + ("_total" if typ == "counter" and func == "CounterFamily"
                             and not name.value.endswith("_total") else "")
        labels_node = next((k.value for k in node.keywords if k.arg == "labels"), None)
        if labels_node is None and label_at is not None and len(node.args) > label_at:
            labels_node = node.args[label_at]
        labels: tuple[str, ...] | None = () if labels_node is None else _strings(labels_node)
        if isinstance(labels_node, ast.Name):
            labels = constants.get(labels_node.id)
        help_text = help_node.value if isinstance(help_node, ast.Constant) and isinstance(help_node.value, str) else ""
        out.setdefault(full, Observed(typ, help_text, labels))
    return out


def _strings(node: ast.expr) -> tuple[str, ...] | None:
    if isinstance(node, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
    return None


def resolve(
    exporter: str,
    collector: str,
    source: str,
    declared: Sequence[FamilyDoc],
    observed: dict[str, Observed],
    literals: dict[str, Observed] | None = None,
) -> list[Row]:
    """A collector's rows: what it emits, grouped by its patterns, completed by its declarations
    and by the families its module builds from literals that the fixtures do not make it emit."""
    observed = dict(observed)
    for name, lit in (literals or {}).items():
        if name not in observed and lit.help and not any(is_pattern(d.name) and matches(d.name, name)
                                                          for d in declared):
            observed[name] = lit
    rows: dict[str, Row] = {}
    seen_under: dict[str, list[str]] = {}
    for family, obs in observed.items():
        doc = next((d for d in declared if matches(d.name, family)), None)
        if doc is not None and doc.type == "any":
            continue  # names, types and labels as the data says (textfile): the declaration is the row
        key = doc.name if doc is not None else family
        if doc is not None and is_pattern(doc.name):
            seen_under.setdefault(key, []).append(family)
            help_text = doc.help or _pattern_help(doc.name, family, obs.help)
        else:
            help_text = obs.help
        labels = obs.labels if obs.labels is not None else (doc.labels if doc is not None else None)
        if labels is None:
            raise ReferenceError(f"{collector}: {family}: declare its labels")
        row = Row(exporter, collector, key, obs.type, labels, help_text,
                  (doc.source if doc is not None else "") or source)
        if doc is not None:
            _check(doc, row)
        known = rows.get(key)
        if known is None:
            rows[key] = row
        elif known.type != row.type:
            raise ReferenceError(f"{collector}: {key} matches families of types {known.type} and {row.type}: "
                                 "declare a pattern for each")
        else:
            rows[key] = replace(known, labels=tuple(dict.fromkeys((*known.labels, *row.labels))))
    for doc in declared:
        if doc.name in rows:
            continue
        if not doc.type or doc.labels is None or not doc.help:
            if is_pattern(doc.name) or not any(matches(doc.name, f) for f in observed):
                raise ReferenceError(f"{collector}: {doc.name} is emitted on no fixture: declare its type, "
                                     "labels and help")
            continue
        rows[doc.name] = Row(exporter, collector, doc.name, doc.type, doc.labels, doc.help, doc.source or source)
    out = []
    for key, row in rows.items():
        doc = next((d for d in declared if d.name == key), None)
        examples = tuple(seen_under.get(key, ())) if doc is None or doc.examples else ()
        out.append(replace(row, examples=examples))
    return out


def _check(doc: FamilyDoc, row: Row) -> None:
    if doc.type and doc.type != row.type:
        raise ReferenceError(f"{doc.name}: declared {doc.type}, emits {row.type}")
    if doc.labels is not None and set(doc.labels) != set(row.labels):
        raise ReferenceError(f"{doc.name}: declared labels {doc.labels}, emits {row.labels}")


def declared_rows(exporter: str, collector: str, source: str, declared: Iterable[FamilyDoc],
                  prefix: str = "", help: bool = True) -> list[Row]:
    """Rows from complete declarations (no fixture observation); ``help``: the help is declared too."""
    out = []
    for doc in declared:
        if not doc.type or doc.labels is None or (help and not doc.help):
            raise ReferenceError(f"{collector}: {doc.name} needs its type, labels and help declared")
        out.append(Row(exporter, collector, prefix + doc.name, doc.type, doc.labels, doc.help, doc.source or source))
    return out


# ---------------------------------------------------------------- node


def node_sections() -> list[Section]:
    from exporters.node.main import collector_specs
    from tests.node.golden import COLLECTORS, LIVE_ONLY, scrape_ours

    specs = collector_specs()
    fixture = [row.name for row in COLLECTORS]
    # the fixtures make some collectors log errors: quiet for this run only (the process's
    # other users of the logger, a test session's caplog among them, keep their level)
    logger = logging.getLogger("exporters")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        texts = scrape_ours(fixture)
    finally:
        logger.setLevel(level)
    sections = []
    for spec in specs:
        observed: dict[str, Observed] = {}
        if spec.name in texts and spec.name not in LIVE_ONLY:
            observed = {k: v for k, v in observe(texts[spec.name]).items()
                        if not k.startswith("node_scrape_collector_")}
        rows = resolve("node", spec.name, spec.source, spec.families, observed,
                       literal_families(sys.modules[spec.factory.__module__]))
        sections.append(Section("node", spec.name, _intro(spec), rows, source=spec.source))
    runner = {k: v for k, v in observe(texts["loadavg"]).items() if k.startswith("node_scrape_collector_")}
    sections.append(Section("node", "exporter", "The collector runner's, one series per collector that ran.",
                            resolve("node", "exporter", "the collector runner", (), runner)))
    return sections


def _intro(spec: CollectorSpec[object]) -> str:
    state = "Enabled by default" if spec.enabled_by_default else "Off by default"
    flag = f"`--{'no-' if spec.enabled_by_default else ''}collector.{spec.name}`"
    parts = [f"{state} ({flag})."]
    if spec.help:
        parts.append(spec.help.rstrip(".") + ".")
    if spec.source:
        parts.append(f"Source: {spec.source}.")
    return " ".join(parts)


# ---------------------------------------------------------------- postgres


PG_CONST = "With `--constantLabels`, its families carry those labels too."


def postgres_sections() -> list[Section]:
    from exporters.postgres import default_metrics, exporter, namespaces
    from exporters.postgres.collectors import SPECS

    sections = []
    for spec in SPECS:
        cls = spec.factory
        queries = tuple(cls.queries)  # type: ignore[attr-defined]
        intro = _intro(spec) + " " + _sql_sources(queries)
        sections.append(Section("postgres", spec.name, intro, map_rows(spec.name, cls.metrics),  # type: ignore[attr-defined]
                                details=_sql_details(queries)))
    for ns in default_metrics.NAMESPACES:
        queries = default_metrics.QUERIES.get(ns.name) or ((">=0.0.0", ns.query),)
        intro = (f"Built-in namespace (upstream's default metrics; `--disable-default-metrics` turns it off). "
                 f"{_sql_sources(queries)} {PG_CONST}")
        sections.append(Section("postgres", ns.name, intro, map_rows(ns.name, ns.metrics),
                                details=_sql_details(queries)))
    literals = {**literal_families(exporter), **literal_families(namespaces)}
    own = resolve("postgres", "exporter", "", exporter.FAMILIES, literals)
    sections.append(Section("postgres", "exporter", "The exporter's own families, `pg_static` and `pg_settings_*`, "
                            "per scrape (`pg_static` and `pg_settings_*` per server, with its `server` label). "
                            + PG_CONST, own))
    sections.append(Section("postgres", "queries file", "Each namespace of the queries file (`--extend.query-path`, "
                            "`PG_EXPORTER_EXTEND_QUERY_PATH`) is one query whose columns become families as upstream "
                            "maps them.", [Row(
                                "postgres", "queries file", "<namespace>_<column>", "any", ("server",),
                                "The column's description; a DURATION column's name ends in `_milliseconds`, a "
                                "HISTOGRAM column writes `_bucket`, `_sum` and `_count`; LABEL columns are labels",
                                "the namespace's query, column <column>")]))
    return sections


def map_rows(collector: str, metrics: object) -> list[Row]:
    """The families of a postgres ``MetricMap``: one per mapped column, and the pattern of the
    columns it does not name when it exports those too."""
    from exporters.postgres.engine import MetricMap

    assert isinstance(metrics, MetricMap)
    labels = [c.name for c in metrics.columns.values() if c.usage == "LABEL"]
    if metrics.server_labels:
        labels.append("server")
    names = tuple(sorted(labels))
    rows = []
    for name, kind, col in metrics.families():
        where = f"column `{col.name}`" + (f", PostgreSQL {col.versions}" if col.versions is not None else "")
        rows.append(Row("postgres", collector, name, kind, names, col.description, where))
    if metrics.unmapped:
        rows.append(Row("postgres", collector, f"{metrics.prefix}_<column>", "untyped", names,
                        f"Unknown metric from {metrics.prefix}", "any other numeric column"))
    return rows


SQL_FROM = re.compile(r"\b(?:FROM|JOIN)\s+((?:pg_catalog\.)?pg_\w+)\b(?!\s*\()", re.I)
SQL_FUNCTION = re.compile(r"\b(pg_\w+)\s*\(")


def _sql_sources(queries: Sequence[tuple[str, str]]) -> str:
    """``Source: `view`, `function()` (PostgreSQL range); ...`` for a collector's queries."""
    ranges: dict[str, list[str]] = {}
    for versions, sql in queries:
        names = dict.fromkeys([*SQL_FROM.findall(sql), *(f + "()" for f in SQL_FUNCTION.findall(sql))])
        ranges.setdefault(", ".join(f"`{n}`" for n in names), []).append(versions)
    parts = [where if versions == [">=0.0.0"] else f"{where} (PostgreSQL {' or '.join(versions)})"
             for where, versions in ranges.items()]
    return "Source: " + "; ".join(parts) + "."


def _sql_details(queries: Sequence[tuple[str, str]]) -> str:
    out = ["<details><summary>SQL</summary>", "", "```sql"]
    for i, (versions, sql) in enumerate(queries):
        if len(queries) > 1 or versions != ">=0.0.0":
            out.append(("" if i == 0 else "\n") + f"-- PostgreSQL {versions}")
        out.append(sql.strip())
    out += ["```", "", "</details>"]
    return "\n".join(out)


# ---------------------------------------------------------------- redis


REDIS_NS = "redis"
# INFO table sections that other collectors read
REDIS_TABLE_OWNERS = {"CLUSTER INFO": "cluster", "Tile38 SERVER EXT": "tile38"}


def redis_sections() -> list[Section]:
    from exporters.redis import main, scrape
    from exporters.redis.collectors import SPECS
    from exporters.redis.families import help_for
    from exporters.redis.info import INFO_FIELDS, SYSTEM_FIELDS

    table: dict[str, dict[str, Row]] = {}
    for fields, note in ((INFO_FIELDS, ""), (SYSTEM_FIELDS, " (-include-system-metrics)")):
        for field_name, row in fields.items():
            owner = REDIS_TABLE_OWNERS.get(row.section, "info")
            where = f"{row.section} `{field_name}`" + (f" / {row.divisor:g}" if row.divisor != 1.0 else "") + note
            rows = table.setdefault(owner, {})
            known = rows.get(row.metric)
            rows[row.metric] = replace(known, source=f"{known.source}, or {where}") if known else Row(
                "redis", owner, f"{REDIS_NS}_{row.metric}", row.type, (), help_for(row.metric), where)
    sections = []
    for spec in SPECS:
        rows = list(table.get(spec.name, {}).values())
        rows += [replace(r, help=r.help or help_for(r.name[len(REDIS_NS) + 1:]))
                 for r in declared_rows("redis", spec.name, spec.source, spec.families, REDIS_NS + "_", help=False)]
        intro = _intro(spec).replace(f"`--collector.{spec.name}`", "").replace(f"`--no-collector.{spec.name}`", "")
        sections.append(Section("redis", spec.name, intro.replace("Enabled by default ().", "Runs where it applies."),
                                rows, source=spec.source))
    own = [replace(r, help=r.help or help_for(r.name[len(REDIS_NS) + 1:]))
           for r in declared_rows("redis", "exporter", "", (*scrape.FAMILIES, *main.families()), REDIS_NS + "_",
                                  help=False)]
    sections.append(Section("redis", "exporter", "The exporter's own families, and those of every scrape of a "
                            "target.", own))
    return sections


# ---------------------------------------------------------------- every exporter


def observe_families(families: Iterable[object]) -> dict[str, Observed]:
    from exporters.core.exposition import render_text

    return observe(render_text(list(families)).decode("utf-8"))  # type: ignore[arg-type]


def common_sections() -> list[Section]:
    """The process, handler and build families, observed from the code that builds them."""
    import tempfile

    from exporters.core.exposition import SeriesGuard
    from exporters.core.reloadable import ReloadableFile
    from exporters.core.selfmetrics import HandlerStats, ProcessMetrics, SeriesDrops, go_build_info
    from exporters.node.main import UPSTREAM as NODE
    from exporters.postgres.main import UPSTREAM as POSTGRES
    from exporters.redis.main import build_info as redis_build_info

    drops = SeriesDrops()
    guard = SeriesGuard(max_series=1)
    guard.over_limit = 1
    drops.record(guard, QUIET, HandlerStats())
    process = observe_families([*ProcessMetrics().collect(), *drops.collect()])
    handler = observe_families(HandlerStats(errors=True).collect())
    with tempfile.TemporaryDirectory() as empty:
        config = ReloadableFile(empty + "/none", str, QUIET, "config file",
                                required=False, default="")
        reload = observe_families(config.metrics(POSTGRES, "Postgres exporter"))
    builds = {"node": observe_families([go_build_info(NODE)]), "postgres": observe_families([go_build_info(POSTGRES)]),
              "redis": observe_families(redis_build_info(REDIS_NS))}
    sections = []
    for exporter in EXPORTERS:
        observed = {**builds[exporter], **process}
        if exporter != "redis":
            observed.update({k: v for k, v in handler.items() if exporter == "node" or not k.endswith("errors_total")})
        if exporter == "postgres":
            observed.update(reload)
        rows = resolve(exporter, "process", "the exporter process", (), observed)
        sections.append(Section(exporter, "process and HTTP handler",
                                "Families of the exporter itself, in every answer of /metrics "
                                "(`exporters_series_dropped` only once a scrape was cut or had a repeated series).",
                                rows, source="the exporter process"))
    return sections


# ---------------------------------------------------------------- output


def sections() -> list[Section]:
    common = {s.exporter: s for s in common_sections()}
    out: list[Section] = []
    for exporter, found in (("node", node_sections()), ("postgres", postgres_sections()),
                            ("redis", redis_sections())):
        out += [*found, common[exporter]]
    return out


def all_rows(found: Sequence[Section] | None = None) -> list[Row]:
    return [row for section in (found if found is not None else sections()) for row in section.rows]


def lookup(rows: Iterable[Row], exporter: str, family: str, catch_all: bool = False) -> Row | None:
    """The row documenting ``family`` of ``exporter``: its own row, else a pattern's. The
    catch-all patterns (type "any": textfile metrics, queries-file namespaces), which match any
    name, only with ``catch_all``."""
    candidates = [r for r in rows if r.exporter == exporter and (catch_all or r.type != "any")]
    exact = next((r for r in candidates if r.name == family), None)
    patterns = [r for r in candidates if is_pattern(r.name) and matches(r.name, family)]
    # the most specific pattern: node_memory_numa_<Field> before node_memory_<Field>
    return exact or max(patterns, key=lambda r: len(PLACEHOLDER.sub("", r.name)), default=None)


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _table(section: Section) -> list[str]:
    sourced = any(row.source and row.source != section.source for row in section.rows)
    head = "| Family | Type | Labels | Help |" + (" Source |" if sourced else "")
    out = [head, "|" + "---|" * (5 if sourced else 4)]
    for row in section.rows:
        labels = ", ".join(row.labels) if row.labels else ""
        line = f"| `{row.name}` | {row.type} | {labels} | {_cell(row.help)} |"
        if sourced:
            line += f" {_cell(row.source) if row.source != section.source else ''} |"
        out.append(line)
    return out


def render(found: Sequence[Section] | None = None) -> str:
    found = list(found if found is not None else sections())
    out = [
        "# Metrics reference",
        "",
        "Every metric family the three exporters serve: its type, labels and help, the collector that",
        "emits it and where its values come from. Generated from the code by",
        "`python -m tests.docs.reference --write`; do not edit. A name with `<Placeholders>` is a",
        "pattern: that part comes from data (a /proc field, an INFO field, a queries file), and the",
        "names seen on the test fixtures are listed under the table.",
        "",
    ]
    exporters = [e for e in (*EXPORTERS, "all") if any(s.exporter == e for s in found)]
    out.append("Contents: " + " · ".join(f"[{_title(e)}](#{_anchor(_title(e))})" for e in exporters))
    out.append("")
    for exporter in exporters:
        out += [f"## {_title(exporter)}", ""]
        for section in (s for s in found if s.exporter == exporter):
            out += [f"### {section.name}", "", section.intro, ""]
            if section.rows:
                out += _table(section)
                out.append("")
            for row in section.rows:
                if row.examples:
                    names = ", ".join(f"`{n}`" for n in row.examples)
                    out += [f"`{row.name}` on the test fixtures: {names}.", ""]
            if section.details:
                out += [section.details.rstrip(), ""]
    return "\n".join(out)


def _title(exporter: str) -> str:
    return TITLES.get(exporter, "Every exporter")


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.docs.reference", description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite docs/metrics.md (default: print it)")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        OUTPUT.parent.mkdir(exist_ok=True)
        OUTPUT.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
