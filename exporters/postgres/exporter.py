"""One scrape of one or more PostgreSQL servers: upstream's ``Exporter`` plus its collectors.

A scrape of a server is a ``Plan``: the collectors that run there, in order, each with the
statements it needs. The plan's statements are what the connection sends (one pipeline),
and each collector then builds its families from its own results, so every family,
built-in or from the queries file, is covered by ``pg_scrape_collector_success``.

Per server (``server`` label ``host:port``): ``pg_static``, ``pg_settings_*``, upstream's
built-in namespaces and the queries file's namespaces. On the first server only (as
upstream): the ``collector/`` table. Then the exporter's own ``pg_up``, ``pg_exporter_*``
families, which carry ``--constantLabels``.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Family, Metric, exact_gauge
from exporters.core.runner import collector_families, collector_family_docs
from exporters.core.selfmetrics import SelfStats, Stat
from exporters.postgres import default_metrics
from exporters.postgres.collectors import SPECS, CollectorConfig, TableCollector, builtin_families
from exporters.postgres.connection import ConnectError, DeadlineExceeded, Result, RowBudget, Statement, Target
from exporters.postgres.dsn import Dsn
from exporters.postgres.engine import Collector, NoDataError, QueryFailed, Server
from exporters.postgres.namespaces import NamespaceCollector, ResultCache, StaticCollector
from exporters.postgres.queries import Namespace, QueryFile, load_queries
from exporters.postgres.settings import SettingsCollector

SPEC_NAMES = tuple(spec.name for spec in SPECS)
DISCOVER_QUERY = (
    "SELECT datname FROM pg_database WHERE datallowconn = true AND datistemplate = false "
    "AND datname != current_database()"
)
# a scrape deadline further away than this (a huge or infinite scrape-timeout header) is
# this far: timeouts stay in the range PostgreSQL and the clock arithmetic take
MAX_SCRAPE_SECONDS = 600.0
DEFAULT_MAX_ROWS_PER_QUERY = 250_000
DEFAULT_MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class Options:
    """The flags that shape a scrape."""

    disable_default_metrics: bool = False
    disable_settings_metrics: bool = False
    auto_discover_databases: bool = False
    include_databases: tuple[str, ...] = ()
    exclude_databases: tuple[str, ...] = ()
    constant_labels: Mapping[str, str] = field(default_factory=dict)
    metric_prefix: str = "pg"
    connect_timeout: float = 5.0
    max_rows_per_query: int = DEFAULT_MAX_ROWS_PER_QUERY
    max_rows: int = DEFAULT_MAX_ROWS


def prefixed(ns: Namespace, prefix: str) -> Namespace:
    """``--metric-prefix``: upstream replaces the first "pg" of every namespace name."""
    if prefix == "pg":
        return ns
    name = ns.name.replace("pg", prefix, 1)
    return replace(ns, name=name, metrics=replace(ns.metrics, prefix=name))


class QueriesState:
    """The queries file in use. Problems are logged; entries in error are skipped and
    ``pg_exporter_user_queries_load_error`` is 1. A reload that cannot read the file at all
    keeps the previous namespaces."""

    def __init__(self, path: str, logger: logging.Logger, collectors: Sequence[str] | None = None) -> None:
        self.path = path
        self.logger = logger
        self.collectors = list(SPEC_NAMES if collectors is None else collectors)
        self.current: QueryFile | None = None
        self.error = False
        self.hashsum = ""
        self._lock = threading.Lock()

    @staticmethod
    def load_file(path: str, collectors: Sequence[str] | None = None) -> QueryFile:
        enabled = SPEC_NAMES if collectors is None else collectors
        return load_queries(
            path,
            reserved=default_metrics.reserved_families(),
            shared={**default_metrics.namespace_families(), **builtin_families(enabled)},
            overridable=[ns.name for ns in default_metrics.NAMESPACES],
        )

    def load(self) -> None:
        """At start and on SIGHUP; never fails the exporter."""
        loaded = self.load_file(self.path, self.collectors)
        for problem in loaded.problems:
            log = self.logger.error if problem.error else self.logger.warning
            log(problem.message, extra={"file": problem.where})
        unusable = not loaded.namespaces and bool(loaded.errors)
        with self._lock:
            if not (unusable and self.current is not None):
                self.current = loaded
            self.error, self.hashsum = bool(loaded.errors), loaded.sha256
        if unusable and self.current is not loaded:
            self.logger.error("failed to reload queries file, keeping the previous one", extra={"file": self.path})
        else:
            self.logger.info("loaded queries file", extra={"file": self.path, "namespaces": len(loaded.namespaces)})

    reload = load

    def namespaces(self) -> tuple[Namespace, ...]:
        with self._lock:
            return self.current.namespaces if self.current is not None else ()

    def metric(self, const_labels: Mapping[str, str]) -> Metric:
        names = sorted({*const_labels, "filename", "hashsum"})
        fam = exact_gauge(
            "pg_exporter_user_queries_load_error",
            "Whether the user queries file was loaded and parsed successfully (1 for error, 0 for success).",
            names,
        )
        values = {**const_labels, "filename": self.path, "hashsum": self.hashsum}
        fam.add_metric([values[n] for n in names], 1.0 if self.error else 0.0)
        return fam


@dataclass
class Step:
    """One collector of a plan and the statements it sends; ``cached``: families already
    at hand (``cache_seconds``), ``pending``: a background refresh to wait for."""

    collector: Collector
    statements: list[Statement]
    cached: list[Metric] | None = None
    pending: tuple[tuple[str, str], threading.Event] | None = None


@dataclass
class Plan:
    """What one scrape of one server runs, in order; built before, executed as is."""

    target: Target
    server: Server
    steps: list[Step] = field(default_factory=list)
    discover: bool = False

    def statements(self) -> list[Statement]:
        out = [st for step in self.steps for st in step.statements]
        if self.discover:
            out.append(Statement(DISCOVER_QUERY))
        return out


@dataclass
class Outcome:
    """What a collector gave in one scrape (summed over servers when it runs on several)."""

    seconds: float = 0.0
    success: bool = True


# The exporter's own families; their labels are --constantLabels.
SELF_STATS = (
    Stat("pg_exporter_last_scrape_duration_seconds", "gauge", "Duration of the last scrape of metrics from PostgreSQL.",
         "duration"),
    Stat("pg_exporter_scrapes_total", "counter", "Total number of times PostgreSQL was scraped for metrics.", "total"),
    Stat("pg_exporter_last_scrape_error", "gauge",
         "Whether the last scrape of metrics from PostgreSQL resulted in an error (1 for error, 0 for success).",
         "error"),
    Stat("pg_up", "gauge",
         "Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).",
         "up"),
    Stat("pg_exporter_duplicate_series_dropped_total", "counter",
         "Series dropped because an earlier one had the same name and labels (ours).", "duplicates"),
    Stat("pg_exporter_rows_dropped_total", "counter",
         "Result rows dropped by --scrape.max-rows-per-query or --scrape.max-rows (ours).", "rows"),
)
# For the metrics reference: the families of the exporter itself, pg_static and pg_settings
# (the collectors' and namespaces' come from their maps).
FAMILIES = (
    *SelfStats.docs(SELF_STATS, "the exporter"),
    FamilyDoc("pg_exporter_user_queries_load_error", labels=("filename", "hashsum"),
              source="the queries file of --extend.query-path"),
    *collector_family_docs("pg", "postgres_exporter"),
    FamilyDoc("pg_static", labels=("server", "short_version", "version"), source="SELECT version()"),
    FamilyDoc("pg_settings_<name>", "gauge", ("server",),
              "Server Parameter: <name> (with a unit: [Units converted to seconds.] or [Units converted to bytes.])",
              source="pg_settings: every bool, integer and real setting, <name> with dots as underscores and "
                     "_seconds or _bytes added for a time or size unit (--disable-settings-metrics turns them off)"),
)

class PostgresExporter:
    """Scrapes a fixed set of DSNs (``/metrics``) or one probed target (``/probe``)."""

    def __init__(
        self,
        dsns: Sequence[Dsn],
        options: Options,
        queries: QueriesState | None,
        specs: Sequence[CollectorSpec[CollectorConfig]],
        logger: logging.Logger,
        target_params: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.queries = queries
        self.logger = logger
        self.clock = clock
        self.target_params = dict(target_params or {})
        self.targets = [self._target(d) for d in dsns]
        # base DSN -> database name -> target (--auto-discover-databases)
        self.discovered: dict[str, dict[str, Target]] = {}
        config = CollectorConfig(tuple(d for d in options.exclude_databases if d), logger)
        self.collectors: list[Collector] = [spec.factory(config) for spec in specs]  # type: ignore[misc]
        self.static = StaticCollector()
        self.settings = SettingsCollector(logger)
        self.cache = ResultCache(logger, clock)
        self.stats = SelfStats(SELF_STATS, options.constant_labels)
        self._lock = threading.Lock()
        self._logged_duplicates: set[str] = set()

    def _target(self, dsn: Dsn) -> Target:
        return Target(dsn, self.logger, self.options.connect_timeout, params=self.target_params)

    def close(self) -> None:
        for target in [*self.targets, *(t for known in self.discovered.values() for t in known.values())]:
            with target.lock:
                target.close()

    # -- the plan -----------------------------------------------------------------------

    def plan(self, target: Target, server: Server, master: bool, first: bool, repeated: bool) -> Plan:
        """The collectors that run on ``target`` this scrape.

        ``master``: the server a DSN names (not a discovered database); ``first``: the first
        DSN, which alone runs the collector package (upstream); ``repeated``: a DSN of a
        server already scraped this time, whose server-wide built-ins would only repeat.
        """
        plan = Plan(target, server)
        opts = self.options
        defaults = master and not repeated and not opts.disable_default_metrics
        builtin: list[Collector] = []
        if defaults and not opts.disable_settings_metrics:
            builtin.append(self.settings)
        if defaults:
            builtin.append(self.static)
        user = list(self.queries.namespaces()) if self.queries is not None else []
        if defaults:
            # a queries-file namespace of the same name replaces the built-in one (upstream)
            names = {ns.name for ns in user}
            for ns in default_metrics.NAMESPACES:
                versioned = None if ns.name in names else default_metrics.for_version(ns, server.version)
                if versioned is not None:
                    builtin.append(NamespaceCollector(prefixed(versioned, opts.metric_prefix), self.logger, True))
        if first:
            builtin.extend(self.collectors)
        for collector in builtin:
            statements = collector.statements(server)
            # a namespace that does not apply to this server's version is not reported at all
            if statements or not isinstance(collector, NamespaceCollector):
                plan.steps.append(Step(collector, statements))
        for ns in user:
            if not master and ns.master:
                continue
            collector = NamespaceCollector(prefixed(ns, opts.metric_prefix), self.logger)
            if ns.cache_seconds > 0 and collector.query(server) is not None:
                plan.steps.append(self._cached_step(target, collector, server))
            elif collector.query(server) is not None:
                plan.steps.append(Step(collector, collector.statements(server)))
        plan.discover = master and opts.auto_discover_databases
        return plan

    def _cached_step(self, target: Target, collector: NamespaceCollector, server: Server) -> Step:
        key = (target.dsn.conninfo(), collector.name)
        families = self.cache.fresh(key, collector.ns.cache_seconds)
        if families is not None:
            return Step(collector, [], cached=families)
        background = Target(target.dsn, self.logger, self.options.connect_timeout, params=self.target_params)
        return Step(collector, [], pending=(key, self.cache.refresh(key, background, collector, server)))

    # -- one scrape ---------------------------------------------------------------------

    def collect(self, deadline: float | None) -> list[Metric]:
        begin = self.clock()
        if deadline is not None and not begin <= deadline <= begin + MAX_SCRAPE_SECONDS:
            deadline = begin + MAX_SCRAPE_SECONDS if not deadline < begin else deadline
        self.stats.add(total=1)
        out: list[Metric] = []
        outcomes: dict[str, Outcome] = {}
        errors = 0
        failed_connections = 0
        scraped = 0
        budget = RowBudget(self.options.max_rows_per_query, self.options.max_rows)
        seen_servers: set[str] = set()
        queue: list[tuple[Target, bool, bool]] = [(t, True, i == 0) for i, t in enumerate(self.targets)]
        while queue:
            target, master, first = queue.pop(0)
            repeated = master and target.server in seen_servers
            seen_servers.add(target.server)
            scraped += 1
            try:
                discovered, failed = self._scrape(target, master, first, repeated, deadline, budget, out, outcomes)
            except (ConnectError, DeadlineExceeded) as err:
                failed_connections += 1
                errors += 1
                self.logger.error("error opening connection to database", extra={
                    "target": target.dsn.display(), "err": target.dsn.redact(str(err))})
                continue
            errors += failed
            if master and self.options.auto_discover_databases:
                queue.extend((extra, False, False) for extra in self._discovered_targets(target, discovered))
        out.extend(self._collector_metrics(outcomes))
        out = self._without_duplicates(out)
        # no server at all (none configured, or a probe without a connection) is "down"
        self.stats.set(up=0.0 if failed_connections >= scraped else 1.0, error=1.0 if errors or not scraped else 0.0,
                       duration=self.clock() - begin)
        out.extend(self.self_metrics())
        return out

    def _scrape(
        self, target: Target, master: bool, first: bool, repeated: bool, deadline: float | None, budget: RowBudget,
        out: list[Metric], outcomes: dict[str, Outcome],
    ) -> tuple[list[str], int]:
        """Plan and run one server: (databases found for discovery, failed collector count)."""
        wait = -1.0 if deadline is None else max(0.0, deadline - self.clock())
        if not target.lock.acquire(timeout=wait):
            raise DeadlineExceeded("another scrape of this target is still running")
        try:
            version = target.version(deadline)
            labels = {"server": target.server, **self.options.constant_labels}
            server = Server(version, labels, deadline)
            plan = self.plan(target, server, master, first, repeated)
            statements = plan.statements()
            results = target.run(statements, deadline, budget, self.clock) if statements else []
        finally:
            target.lock.release()
        failed = 0
        position = 0
        for step in plan.steps:
            own = results[position:position + len(step.statements)]
            position += len(step.statements)
            outcome = outcomes.setdefault(step.collector.name, Outcome())
            started = self.clock()
            ok = self._build(step, own, server, out)
            outcome.seconds += sum(r.seconds for r in own) + (self.clock() - started)
            outcome.success = outcome.success and ok is True
            # as upstream, the collector package's failures show in its own success metric only
            if ok is False and not isinstance(step.collector, TableCollector):
                failed += 1
            dropped = sum(r.dropped_rows for r in own)
            if dropped:
                self._rows_dropped(step.collector.name, target, dropped)
        discovered: list[str] = []
        if plan.discover:
            found = results[position] if position < len(results) else Result(error="not run")
            if found.ok:
                discovered = [str(row[0]) for row in found.rows]
            else:
                failed += 1
                self.logger.error("error querying databases", extra={
                    "target": target.dsn.display(), "err": target.dsn.redact(found.error)})
        return discovered, failed

    def _build(self, step: Step, results: list[Result], server: Server, out: list[Metric]) -> bool | None:
        """One collector's families, isolated: a failure costs only its own families.
        True: built; None: no data on this server (not an error); False: failed."""
        name = step.collector.name
        try:
            if step.cached is not None:
                out.extend(step.cached)
                return True
            if step.pending is not None:
                key, done = step.pending
                done.wait(None if server.deadline is None else max(0.0, server.deadline - self.clock()))
                families = self.cache.latest(key)
                if families is None:
                    raise NoDataError("first run of the cached query still in progress")
                out.extend(families)
                return True
            out.extend(step.collector.collect(results, server))
            return True
        except NoDataError as err:
            self.logger.debug("collector returned no data", extra={"collector": name, "err": str(err)})
            return None
        except QueryFailed as err:
            self.logger.error("collector failed", extra={"collector": name, "err": str(err)})
        except DeadlineExceeded as err:
            self.logger.error("collector did not finish before the scrape deadline",
                              extra={"collector": name, "err": str(err)})
        except Exception as err:  # noqa: BLE001 - isolation is the point: log, mark, go on
            self.logger.error("collector failed", extra={"collector": name, "err": f"{type(err).__name__}: {err}"})
        return False

    def _rows_dropped(self, collector: str, target: Target, count: int) -> None:
        self.stats.add(rows=count)
        self.logger.warning("rows over the limit dropped", extra={
            "collector": collector, "target": target.dsn.display(), "rows": count})

    def _discovered_targets(self, base: Target, names: list[str]) -> list[Target]:
        """Targets for the databases found on ``base``; those no longer found are closed."""
        include = set(self.options.include_databases)
        exclude = set(self.options.exclude_databases)
        known = self.discovered.setdefault(base.dsn.conninfo(), {})
        wanted = {n for n in names if n not in exclude and (not include or n in include)}
        for name in list(known):
            if name not in wanted:
                gone = known.pop(name)
                with gone.lock:
                    gone.close()
        for name in sorted(wanted - set(known)):
            known[name] = self._target(base.dsn.with_params(dbname=name))
        return [known[name] for name in sorted(known)]

    @staticmethod
    def _collector_metrics(outcomes: Mapping[str, Outcome]) -> list[Metric]:
        rows = [(name, outcome.seconds, outcome.success) for name, outcome in outcomes.items()]
        return collector_families("pg", "postgres_exporter", rows) if rows else []

    def _without_duplicates(self, metrics: list[Metric]) -> list[Metric]:
        """Each series once, the first one kept: two DSNs of one server, discovered
        databases running server-wide queries, a query returning the same labels twice.
        Families are merged by name into a copy: cached families stay as they are."""
        groups: dict[str, list[Metric]] = {}
        for fam in metrics:
            groups.setdefault(fam.name, []).append(fam)
        out: list[Metric] = []
        dropped: dict[str, int] = {}
        for fam in metrics:
            group = groups.pop(fam.name, None)
            if group is None:
                continue  # merged into the first family of its name
            if len(group) == 1 and _unique(fam):
                out.append(fam)
                continue
            keys: set[tuple[str, frozenset[tuple[str, str]]]] = set()
            samples = []
            for member in group:
                for sample in member.samples:
                    key = (sample.name, frozenset(sample.labels.items()))
                    if key in keys:
                        dropped[fam.name] = dropped.get(fam.name, 0) + 1
                    else:
                        keys.add(key)
                        samples.append(sample)
            merged = copy.copy(fam)
            merged.samples = samples
            out.append(merged)
        if dropped:
            self.stats.add(duplicates=sum(dropped.values()))
            with self._lock:
                new = [n for n in dropped if n not in self._logged_duplicates]
                self._logged_duplicates.update(new)
            for name in new:
                self.logger.warning("repeated series dropped, the first one kept (logged once per family)",
                                    extra={"family": name, "series": dropped[name]})
        return out

    def self_metrics(self) -> list[Metric]:
        const = dict(self.options.constant_labels)
        out = self.stats.collect()
        if self.queries is not None:
            out.append(self.queries.metric(const))
        return out


def _unique(fam: Metric) -> bool:
    """No two series of the family have the same labels."""
    rows = fam.rows if isinstance(fam, Family) else None
    if rows is not None:
        return len({r[0] for r in rows}) == len(rows)
    samples = fam.samples
    return len({(s.name, frozenset(s.labels.items())) for s in samples}) == len(samples)


def run_namespaces(target: Target, namespaces: Iterable[Namespace], deadline: float | None) -> list[Result]:
    """Each namespace's query once, as a scrape runs it (``--check-queries``)."""
    return run_statements(target, [ns.query for ns in namespaces], deadline, read_only=False)


def run_statements(target: Target, sql: Iterable[str], deadline: float | None, read_only: bool = True) -> list[Result]:
    with target.lock:
        return target.run([Statement(text, read_only=read_only) for text in sql], deadline)
