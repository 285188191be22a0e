"""``exporters node``: the node_exporter replacement."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Iterable, Sequence

from prometheus_client.metrics_core import Metric

from exporters.core.app import Exporter, HTTPError, Request, run_exporter
from exporters.core.cli import (
    ArgumentParser,
    add_collector_flags,
    add_version_flag,
    add_web_flags,
    enabled_collectors,
)
from exporters.core.collector import CollectorSpec
from exporters.core.runner import CollectorRunner
from exporters.node import collectors as collectors_pkg
from exporters.node.context import NodeContext

UPSTREAM = "node_exporter"
UPSTREAM_VERSION = "1.7.0"
DEFAULT_ADDRESS = ":9100"


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
    add_collector_flags(parser, specs)
    return parser


class NodeMetrics:
    """Serves ``/metrics``: the enabled collectors, filtered by ``collect[]``/``exclude[]``."""

    def __init__(self, runner: CollectorRunner) -> None:
        self.runner = runner

    def __call__(self, request: Request) -> Iterable[Metric]:
        include = request.query.get("collect[]", [])
        exclude = request.query.get("exclude[]", [])
        if include and exclude:
            raise HTTPError(400, "collect[] and exclude[] can't be used together")
        for name in include + exclude:
            if name not in self.runner.collectors:
                raise HTTPError(400, f"couldn't create filtered metrics handler: missing collector: {name}")
        names = self.runner.selected(include or None, exclude or None)
        return self.runner.collect(request.deadline, names)


def main(argv: Sequence[str] | None = None) -> int:
    specs = collector_specs()
    args = build_parser(specs).parse_args(argv)
    context = NodeContext(
        procfs=args.path_procfs,
        sysfs=args.path_sysfs,
        rootfs=args.path_rootfs,
        udev_data=args.path_udev_data,
        args=args,
    )
    chosen = enabled_collectors(args, specs)

    def build(exporter: Exporter) -> None:
        collectors = {}
        for spec in chosen:
            collectors[spec.name] = spec.factory(context)
        exporter.logger.info("enabled collectors", extra={"collectors": ",".join(collectors)})
        runner = CollectorRunner("node", collectors, exporter.logger)
        exporter.metrics = NodeMetrics(runner)
        exporter.on_close.append(runner.close)

    exporter = Exporter(
        name="node",
        upstream=UPSTREAM,
        title="Node Exporter",
        args=args,
        exporter_metrics=not args.web_disable_exporter_metrics,
    )
    return run_exporter(exporter, build)


if __name__ == "__main__":
    sys.exit(main())
