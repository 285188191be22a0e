"""Run our node exporter's scrape in a loop, in one thread, for a profiler to sample.

    py-spy record --rate 1000 --format raw -o node.txt -- python -m bench.profile_node --seconds 15

Each iteration is what one scrape does, minus HTTP: every enabled collector in turn, the
exposition (``--format text|openmetrics``) and gzip. Running the collectors in turn rather
than in the runner's thread pool keeps each sample attributable to one collector.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import sys
import time
from collections.abc import Sequence

from exporters.core.app import GZIP_LEVEL
from exporters.core.collector import NoDataError
from exporters.core.exposition import render_openmetrics, render_text
from exporters.core.flags import enabled_collectors
from exporters.core.metrics import Metric
from exporters.node.context import NodeContext
from exporters.node.main import build_parser, collector_specs


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile_node")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--format", choices=("text", "openmetrics"), default="openmetrics")
    p.add_argument("node_args", nargs="*", help="node exporter flags (after --), e.g. --path.procfs")
    args = p.parse_args(argv)
    specs = collector_specs()
    node_args = build_parser(specs).parse_args(args.node_args)
    context = NodeContext(procfs=node_args.path_procfs, sysfs=node_args.path_sysfs, rootfs=node_args.path_rootfs,
                          udev_data=node_args.path_udev_data, args=node_args)
    collectors = {spec.name: spec.factory(context) for spec in enabled_collectors(node_args, specs)}
    logging.disable(logging.CRITICAL)
    render = render_openmetrics if args.format == "openmetrics" else render_text
    per_collector = dict.fromkeys(collectors, 0.0)
    scrapes = 0
    started = time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        metrics: list[Metric] = []
        for name, collector in collectors.items():
            begin = time.perf_counter()
            try:
                metrics.extend(collector.collect())
            except NoDataError:
                pass
            except Exception as err:  # noqa: BLE001 - the runner isolates collectors the same way
                sys.stderr.write(f"{name}: {type(err).__name__}: {err}\n")
            per_collector[name] += time.perf_counter() - begin
        gzip.compress(render(metrics), compresslevel=GZIP_LEVEL, mtime=0)
        scrapes += 1
    elapsed = time.perf_counter() - started
    sys.stdout.write(f"{scrapes} scrapes, {elapsed / scrapes * 1000:.2f} ms each (one thread)\n")
    for name, total in sorted(per_collector.items(), key=lambda kv: -kv[1])[:15]:
        sys.stdout.write(f"  {name:20s} {total / scrapes * 1000:6.2f} ms\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
