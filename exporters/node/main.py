"""``exporters node``: the node_exporter replacement."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from exporters.core.app import Exporter, HTTPError, Request, Runtime, fail, run
from exporters.core.collector import CollectorSpec
from exporters.core.flags import (
    ArgumentParser,
    add_collector_flags,
    add_version_flag,
    add_web_flags,
    enabled_collectors,
)
from exporters.core.logs import build_context, version_info
from exporters.core.metrics import Metric
from exporters.core.runner import CollectorRunner
from exporters.core.settings import LogSettings, WebSettings
from exporters.node import collectors as collectors_pkg
from exporters.node.context import NodeContext
from exporters.node.help import add_help_pages

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


def collector_specs() -> list[CollectorSpec[NodeContext]]:
    """The collector table: every module in ``exporters.node.collectors`` with a ``SPEC``."""
    specs: list[CollectorSpec[NodeContext]] = []
    for info in pkgutil.iter_modules(collectors_pkg.__path__):
        module = importlib.import_module(f"{collectors_pkg.__name__}.{info.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, CollectorSpec):
            specs.append(spec)
    return sorted(specs, key=lambda s: s.name)


def build_parser(specs: Sequence[CollectorSpec[NodeContext]]) -> argparse.ArgumentParser:
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
        help="Exclude metrics about the exporter itself (process_*, python_*, promhttp_*).",
    )
    parser.add_argument(
        "--runtime.gomaxprocs", dest="runtime_gomaxprocs", type=int, metavar="N",
        default=_int_env("GOMAXPROCS", 1),
        help="Accepted for command-line compatibility with node_exporter (a Go runtime setting); "
        "it has no effect here.",
    )
    add_collector_flags(parser, specs)
    add_help_pages(parser, {spec.name: spec.enabled_by_default for spec in specs})
    return parser


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
        return cls(
            web=WebSettings.from_args(args),
            log=LogSettings.from_args(args),
            context=NodeContext(procfs=args.path_procfs, sysfs=args.path_sysfs, rootfs=args.path_rootfs,
                                udev_data=args.path_udev_data, args=args),
            collectors=tuple(enabled_collectors(args, specs)),
            exporter_metrics=not args.web_disable_exporter_metrics,
        )


def build_app(settings: NodeSettings, runtime: Runtime) -> Exporter:
    logger = runtime.logger
    logger.info("Starting node_exporter", extra={"version": version_info(UPSTREAM, UPSTREAM_VERSION)})
    logger.info("Build context", extra={"build_context": build_context()})
    if os.geteuid() == 0:
        logger.warning("Node Exporter is running as root user. This exporter is designed to run as unprivileged "
                       "user, root is not required.")
    collectors = {spec.name: spec.factory(settings.context) for spec in settings.collectors}
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
    specs = collector_specs()
    argv = list(sys.argv[1:] if argv is None else argv)
    problem = not_provided_error(argv)
    if problem is not None:
        return fail(UPSTREAM, problem)
    # switching off a collector we do not have is what the operator wants already
    argv = [a for a in argv if not (a.startswith("--no-collector.") and a[len("--no-collector."):] in NOT_PROVIDED)]
    args = build_parser(specs).parse_args(argv)
    return run(UPSTREAM, "node", lambda: NodeSettings.from_args(args, specs), build_app)


if __name__ == "__main__":
    sys.exit(main())
