"""entropy: ``node_entropy_available_bits`` and ``node_entropy_pool_size_bits``
from /proc/sys/kernel/random."""

from __future__ import annotations

import os
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.context import NodeContext

NAME = "entropy"
# procfs reads all of these; a malformed one fails the collector even if it is not exported.
RANDOM_FILES = ("entropy_avail", "poolsize", "urandom_min_reseed_secs", "write_wakeup_threshold",
                "read_wakeup_threshold")


def read_kernel_random(context: NodeContext) -> dict[str, int]:
    """The files of /proc/sys/kernel/random that exist, as integers."""
    out: dict[str, int] = {}
    for name in RANDOM_FILES:
        try:
            out[name] = context.read_uint(os.path.join(context.proc("sys/kernel/random"), name))
        except FileNotFoundError:
            continue
    return out


class EntropyCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        values = read_kernel_random(self.context)
        if "entropy_avail" not in values:
            raise ValueError("couldn't get entropy_avail")
        yield GaugeFamily("node_entropy_available_bits", "Bits of available entropy.",
                                value=values["entropy_avail"])
        if "poolsize" not in values:
            raise ValueError("couldn't get entropy poolsize")  # after the first sample, as upstream
        yield GaugeFamily("node_entropy_pool_size_bits", "Bits of entropy pool.", value=values["poolsize"])


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=EntropyCollector, enabled_by_default=True, help="Exposes available entropy.",
    source="/proc/sys/kernel/random/entropy_avail and poolsize",
)
