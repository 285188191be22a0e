"""edac: memory controller error counters from /sys/devices/system/edac/mc/mc*/ (and csrow*)."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.context import NodeContext

NAME = "edac"
CONTROLLER_RE = re.compile(r".*devices/system/edac/mc/mc([0-9]*)")
CSROW_RE = re.compile(r".*devices/system/edac/mc/mc[0-9]*/csrow([0-9]*)")

# (name, help, labels) by the family index _samples() yields.
FAMILIES = (
    ("node_edac_correctable_errors", "Total correctable memory errors.", ["controller"]),
    ("node_edac_uncorrectable_errors", "Total uncorrectable memory errors.", ["controller"]),
    ("node_edac_csrow_correctable_errors", "Total correctable memory errors for this csrow.",
     ["controller", "csrow"]),
    ("node_edac_csrow_uncorrectable_errors", "Total uncorrectable memory errors for this csrow.",
     ["controller", "csrow"]),
)


def parse_count(text: str, what: str) -> int:
    """A decimal unsigned counter file (``strconv.ParseUint(s, 10, 64)`` after trimming)."""
    value = text.strip()
    if not value.isdigit() or not value.isascii() or int(value) >= 2**64:
        raise ValueError(f"couldn't parse {what}: {value!r}")
    return int(value)


class EdacCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def read(self, path: str) -> str:
        return read_text(path)

    def controllers(self) -> list[str]:
        return sorted(glob.glob(self.context.sys("devices/system/edac/mc/mc[0-9]*")))

    def collect(self) -> Iterator[Metric]:
        """One small family per sample, yielded as read: a failing file keeps what came before, as upstream."""
        for index, labels, path, what in self._samples():
            name, doc, label_names = FAMILIES[index]
            family = CounterFamily(name, doc, labels=label_names)
            family.add_metric(labels, float(parse_count(self.read(path), what)))
            yield family

    def _samples(self) -> Iterator[tuple[int, list[str], str, str]]:
        """(family index, labels, file, description) in upstream's reading order."""
        for controller in self.controllers():
            match = CONTROLLER_RE.match(controller)
            if match is None:
                raise ValueError(f"controller string didn't match regexp: {controller}")
            number = match.group(1)
            yield 0, [number], os.path.join(controller, "ce_count"), f"ce_count for controller {number}"
            yield 2, [number, "unknown"], os.path.join(controller, "ce_noinfo_count"), "ce_noinfo_count"
            yield 1, [number], os.path.join(controller, "ue_count"), f"ue_count for controller {number}"
            yield 3, [number, "unknown"], os.path.join(controller, "ue_noinfo_count"), "ue_noinfo_count"
            for csrow in sorted(glob.glob(controller + "/csrow[0-9]*")):
                row_match = CSROW_RE.match(csrow)
                if row_match is None:
                    raise ValueError(f"csrow string didn't match regexp: {csrow}")
                row = row_match.group(1)
                yield 2, [number, row], os.path.join(csrow, "ce_count"), f"ce_count for {number}/{row}"
                yield 3, [number, row], os.path.join(csrow, "ue_count"), f"ue_count for {number}/{row}"


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=EdacCollector, enabled_by_default=True,
    help="Exposes error detection and correction statistics.",
    source="/sys/devices/system/edac/mc/mc<N>/ and its csrow<N>/",
)
