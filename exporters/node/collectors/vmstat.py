"""vmstat: ``node_vmstat_<field>`` (untyped) for /proc/vmstat fields matching
``--collector.vmstat.fields`` (Go regexp, unanchored search)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import Metric, exact_untyped
from exporters.node.collectors._files import read_text
from exporters.node.collectors._flags import compile_go_regex
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

NAME = "vmstat"
DEFAULT_FIELDS = "^(oom_kill|pgpg|pswp|pg.*fault).*"


def read_vmstat(context: NodeContext) -> str:
    return read_text(context.proc("vmstat"))


def parse_vmstat(text: str, fields: re.Pattern[str]) -> list[tuple[str, float]]:
    """(field, value) for the matching fields; every line's value must parse, as upstream."""
    out: list[tuple[str, float]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"invalid line in vmstat: {line!r}")
        value = go_parse_float(parts[1])
        if fields.search(parts[0]):
            out.append((parts[0], value))
    return out


class VmstatCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context
        pattern = str(context.option("collector_vmstat_fields", DEFAULT_FIELDS))
        self.fields = compile_go_regex(pattern, "--collector.vmstat.fields")

    def collect(self) -> Iterable[Metric]:
        for field, value in parse_vmstat(read_vmstat(self.context), self.fields):
            family = exact_untyped(f"node_vmstat_{field}", f"/proc/vmstat information field {field}.")
            family.add_metric([], value)
            yield family


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--collector.vmstat.fields", dest="collector_vmstat_fields", default=DEFAULT_FIELDS,
                        metavar="REGEX", help="Regexp of fields to return for vmstat collector.")


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=VmstatCollector, enabled_by_default=True,
    help="Exposes statistics from /proc/vmstat.", add_arguments=add_arguments,
)
