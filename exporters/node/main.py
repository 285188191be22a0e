"""``exporters node``: the node_exporter replacement."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from exporters.core.app import Exporter, HTTPError, Request, Runtime, fail, run
from exporters.core.collector import Collector, CollectorSpec
from exporters.core.flags import (
    ArgumentParser,
    add_collector_flags,
    add_version_flag,
    add_web_flags,
    enabled_collectors,
)
from exporters.core.logs import build_context, version_info
from exporters.core.metrics import Metric
from exporters.core.options import options_from_args
from exporters.core.runner import CollectorRunner
from exporters.core.settings import LogSettings, WebSettings
from exporters.node import collectors as collectors_pkg
from exporters.node.collector_table import COLLECTORS
from exporters.node.collectors._files import HeldFiles
from exporters.node.context import PSUTIL_SYSTEMS, NodeContext
from exporters.node.table import CollectorRow, add_table_flags, load_spec

UPSTREAM = "node_exporter"
UPSTREAM_VERSION = "1.7.0"
DEFAULT_ADDRESS = ":9100"


# node_exporter v1.7.0's Linux collectors this exporter does not provide, all off by default
# upstream. Asking for one (--collector.NAME or one of its options) stops the start with a
# clear error, so an operator who relies on one learns it at once instead of finding its
# panels blank and its alerts silent.
NOT_PROVIDED: dict[str, str] = {}


def not_provided_error(argv: Sequence[str]) -> str | None:
    """The error for a flag that asks for a collector listed in ``NOT_PROVIDED``, if any."""
    for arg in argv:
        for prefix in ("--collector.", "--no-collector."):
            if arg.startswith(prefix):
                name = arg[len(prefix):].split("=")[0].split(".")[0]
                if name in NOT_PROVIDED and prefix == "--collector.":
                    return (f"the {name} collector is not provided by this exporter ({NOT_PROVIDED[name]}); "
                            f"remove {arg.split('=')[0]}")
    return None


def collector_specs(platform: str | None = sys.platform) -> list[CollectorSpec[NodeContext]]:
    """Every module in ``exporters.node.collectors`` with a ``SPEC`` for ``platform`` (None: for any), all
    imported (the start reads the generated ``exporters.node.collector_table`` instead, see
    ``exporters.node.table``). A module's ``SYSTEMS``, when it has one, lists the only systems it is for."""
    import pkgutil

    specs: list[CollectorSpec[NodeContext]] = []
    for info in pkgutil.iter_modules(collectors_pkg.__path__):
        module = importlib.import_module(f"{collectors_pkg.__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        systems: tuple[str, ...] = getattr(module, "SYSTEMS", ())
        if isinstance(spec, CollectorSpec) and (platform is None or not systems or platform.startswith(systems)):
            specs.append(spec)
    return sorted(specs, key=lambda s: s.name)


def table_rows(platform: str = sys.platform) -> list[CollectorRow]:
    """The generated table's rows for ``platform``: ``collector_specs(platform)`` without importing them."""
    return [row for row in COLLECTORS if not row.systems or platform.startswith(row.systems)]


def build_parser(specs: Sequence[CollectorSpec[NodeContext]] | None = None) -> argparse.ArgumentParser:
    """node_exporter's command line, its collector flags from the generated table (no collector
    module imported) or, given ``specs``, from the specs themselves (the same parser: the test of
    the table compares both)."""
    parser = ArgumentParser(prog="node_exporter", description="Prometheus exporter for machine metrics.")
    add_version_flag(parser, UPSTREAM, UPSTREAM_VERSION)
    paths = parser.add_argument_group("paths")
    paths.add_argument("--path.procfs", dest="path_procfs", default="/proc", help="procfs mountpoint.")
    paths.add_argument("--path.sysfs", dest="path_sysfs", default="/sys", help="sysfs mountpoint.")
    paths.add_argument("--path.rootfs", dest="path_rootfs", default="/", help="rootfs mountpoint.")
    paths.add_argument("--path.udev.data", dest="path_udev_data", default="/run/udev/data",
                       help="udev data path.")
    add_web_flags(parser, DEFAULT_ADDRESS)
    parser.add_argument(
        "--web.disable-exporter-metrics", dest="web_disable_exporter_metrics", action="store_true",
        help="Exclude metrics about the exporter itself (promhttp_*, process_*, go_*).",
    )
    parser.add_argument(
        "--runtime.gomaxprocs", dest="runtime_gomaxprocs", type=int, metavar="N",
        default=_int_env("GOMAXPROCS", 1),
        help="The target number of CPUs Go will run on (GOMAXPROCS)",
    )
    if specs is None:
        rows = table_rows()
        add_table_flags(parser, rows)
        add_help_pages(parser, {row.name: row.enabled_by_default for row in rows})
    else:
        add_collector_flags(parser, specs)
        add_help_pages(parser, {spec.name: spec.enabled_by_default for spec in specs})
    return parser


class KingpinHelpAction(argparse.Action):
    """``--help-long`` / ``--help-man``: print the page to stdout and exit 0, as kingpin's PreAction does
    (``exporters.node.help`` lays it out, imported then)."""

    def __init__(self, option_strings: Sequence[str], dest: str, collectors: Mapping[str, bool] | None = None,
                 **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        self.collectors = dict(collectors or {})

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from exporters.node.help import write_page

        write_page(parser, self.collectors, option_string)
        parser.exit(0)


def add_help_pages(parser: argparse.ArgumentParser, collectors: Mapping[str, bool]) -> None:
    """Register ``--help-long`` and ``--help-man`` (hidden, as kingpin's)."""
    parser.add_argument("--help-long", "--help-man", action=KingpinHelpAction, dest="help_long",
                        collectors=collectors)


def enabled_specs(args: argparse.Namespace) -> list[CollectorSpec[NodeContext]]:
    """The specs of the collectors the command line enables, only their modules imported."""
    return [load_spec(row) for row in enabled_collectors(args, table_rows())]


def _int_env(name: str, default: int) -> int:
    """An integer flag default read from the environment, as kingpin's ``Envar``."""
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        return default


class NodeMetrics:
    """Serves ``/metrics``: the enabled collectors, filtered by ``collect[]``/``exclude[]``."""

    def __init__(self, runner: CollectorRunner) -> None:
        self.runner = runner

    def __call__(self, request: Request) -> Iterable[Metric]:
        include = request.query.get("collect[]", [])
        exclude = request.query.get("exclude[]", [])
        if include and exclude:
            raise HTTPError(400, "Combined collect and exclude queries are not allowed.")
        for name in include + exclude:
            if name not in self.runner.collectors:
                raise HTTPError(400, "Couldn't create filtered metrics handler: couldn't create collector: "
                                     f"missing collector: {name}")
        names = self.runner.selected(include or None, exclude or None)
        return self.runner.collect(request.deadline, names)


@dataclass(frozen=True)
class NodeSettings:
    """Everything node_exporter's command line decides, typed."""

    web: WebSettings
    log: LogSettings
    context: NodeContext
    collectors: tuple[CollectorSpec[NodeContext], ...]
    exporter_metrics: bool = True

    @classmethod
    def from_args(cls, args: argparse.Namespace, specs: Sequence[CollectorSpec[NodeContext]]) -> NodeSettings:
        context = node_context(args, specs)
        return cls(
            web=WebSettings.from_args(args),
            log=LogSettings.from_args(args),
            context=context,
            collectors=tuple(spec for spec in specs if spec.name in context.enabled),
            exporter_metrics=not args.web_disable_exporter_metrics,
        )


def node_context(args: argparse.Namespace, specs: Sequence[CollectorSpec[NodeContext]]) -> NodeContext:
    """What the collectors are built from: the paths, the enabled collectors, every collector's options."""
    return NodeContext(
        procfs=args.path_procfs, sysfs=args.path_sysfs, rootfs=args.path_rootfs, udev_data=args.path_udev_data,
        enabled=frozenset(spec.name for spec in enabled_collectors(args, specs)),
        collector_options={spec.options: options_from_args(spec.options, args) for spec in specs if spec.options},
        # procfs and sysfs make a file's text anew at each read from offset 0: a held
        # descriptor saves the open and close (on regular files, as a fixture tree's, it would not)
        files=HeldFiles(limit=HELD_PROC_SYS_FILES) if live_host(args.path_procfs, args.path_sysfs) else None,
    )


# Descriptors held open between scrapes count against RLIMIT_NOFILE beside the connections
# the server accepts: the fixed files of a scrape are a few dozen, the rest is read as before.
HELD_PROC_SYS_FILES = 128


def live_host(procfs: str, sysfs: str) -> bool:
    """Whether the path flags name this host's own /proc and /sys."""
    return os.path.realpath(procfs) == "/proc" and os.path.realpath(sysfs) == "/sys"


def build_collector(spec: CollectorSpec[NodeContext], context: NodeContext) -> Collector:
    """The spec's collector for the context's system: its psutil one (``portable``) on macOS and FreeBSD."""
    if spec.portable is not None and context.platform.startswith(PSUTIL_SYSTEMS):
        return spec.portable(context)
    return spec.factory(context)


def build_app(settings: NodeSettings, runtime: Runtime) -> Exporter:
    logger = runtime.logger
    logger.info("Starting node_exporter", extra={"version": version_info(UPSTREAM, UPSTREAM_VERSION)})
    logger.info("Build context", extra={"build_context": build_context()})
    if os.geteuid() == 0:
        logger.warning("Node Exporter is running as root user. This exporter is designed to run as unprivileged "
                       "user, root is not required.")
    collectors = {spec.name: build_collector(spec, settings.context) for spec in settings.collectors}
    logger.info("Enabled collectors")
    for name in collectors:
        logger.info("", extra={"collector": name, "_no_msg": True})
    runner = CollectorRunner("node", collectors, runtime.logger)
    return Exporter(
        name="node",
        upstream=UPSTREAM,
        title="Node Exporter",
        web=settings.web,
        runtime=runtime,
        metrics=NodeMetrics(runner),
        on_close=[runner.close],
        exporter_metrics=settings.exporter_metrics,
        promhttp_errors=True,  # node_exporter registers promhttp_metric_handler_errors_total
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    problem = not_provided_error(argv)
    if problem is not None:
        return fail(UPSTREAM, problem)
    # switching off a collector we do not have is what the operator wants already
    argv = [a for a in argv if not (a.startswith("--no-collector.") and a[len("--no-collector."):] in NOT_PROVIDED)]
    try:
        args = build_parser().parse_args(argv)
        return run(UPSTREAM, "node", lambda: NodeSettings.from_args(args, enabled_specs(args)), _built_then_gc)
    finally:
        gc.enable()


def _built_then_gc(settings: NodeSettings, runtime: Runtime) -> Exporter:
    """``build_app``, then the cyclic GC back on if ``python -m exporters.node`` paused it for the start."""
    try:
        return build_app(settings, runtime)
    finally:
        gc.enable()


if __name__ == "__main__":
    sys.exit(main())
