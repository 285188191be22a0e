"""Host: N extra network links and M tmpfs mounts in the benchmark's own namespaces (needs root)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from bench import hostns
from bench.harness import ExporterUnavailable
from bench.scenarios import Options, Row, Scenario, Size, skipped
from bench.targets import go_binaries

log = logging.getLogger("bench")


def links_and_mounts(text: str) -> list[tuple[int, int]]:
    """``10+5,50+20`` -> [(10, 5), (50, 20)]: links + mounts."""
    sizes = []
    for part in text.split(","):
        links, sep, mounts = part.strip().partition("+")
        if not sep:
            raise ValueError("expected LINKS+MOUNTS")
        sizes.append((int(links), int(mounts)))
    return sizes


def run(opts: Options) -> Iterator[Row]:
    for links, mounts in opts.size("hosts"):
        size = {"name": "links+mounts", "value": f"{links}+{mounts}", "links": links, "mounts": mounts}
        log.info("host %d links %d mounts: %d scrapes each (in namespaces)", links, mounts, opts.scale_scrapes)
        try:
            row = hostns.run_in_namespace(links, mounts, opts.scale_scrapes, opts.warmup, opts.log_dir,
                                          go_binaries("node", opts.go, opts.go_custom), opts.ours_args.get("node", ()))
        except ExporterUnavailable as err:
            yield skipped("host", "node", size, str(err))
            continue
        if "skipped" in row:
            yield skipped("host", "node", size, row["skipped"])
            continue
        yield {**row, "size": size}


SCENARIO = Scenario(
    name="host", title="Host: extra network links and tmpfs mounts (own namespaces)", run=run, exporter="node",
    sizes={"hosts": Size("10+5,50+20,100+40", "100+40,250+100,500+200", "2+1,5+2,10+4", links_and_mounts,
                         "links+mounts in the namespaces")},
    order=30,
)
