"""vmstat: ``node_vmstat_<field>`` (untyped) for /proc/vmstat fields matching
``--collector.vmstat.fields`` (Go regexp, unanchored search)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric, exact_untyped
from exporters.core.options import option
from exporters.node.collectors._flags import compile_go_regex
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

NAME = "vmstat"
DEFAULT_FIELDS = "^(oom_kill|pgpg|pswp|pg.*fault).*"


def read_vmstat(context: NodeContext) -> str:
    return context.read_text(context.proc("vmstat"))


# Every line "<name> <decimal digits>": each value parses (go_parse_float's plain case),
# so only the matching fields need taking apart. \S excludes every str.splitlines boundary.
_PLAIN = re.compile(r"(?:\S+ [0-9]{1,299}\n)*(?:\S+ [0-9]{1,299})?")
_LINE = re.compile(r"(\S+) ([0-9]+)")


def parse_vmstat(
    text: str, fields: re.Pattern[str], matched: dict[str, bool] | None = None
) -> list[tuple[str, float]]:
    """(field, value) for the matching fields; every line's value must parse, as upstream.

    ``matched`` remembers which names ``fields`` matches, across calls with the same pattern.
    """
    out: list[tuple[str, float]] = []
    if _PLAIN.fullmatch(text):
        known = {} if matched is None else matched
        for name, number in _LINE.findall(text):
            found = known.get(name)
            if found is None:
                found = known[name] = fields.search(name) is not None
            if found:
                out.append((name, float(number)))
        return out
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
        pattern = context.options(VmstatOptions).fields
        self.fields = compile_go_regex(pattern, "--collector.vmstat.fields")
        self.matched: dict[str, bool] = {}
        """/proc/vmstat name -> whether ``fields`` matches it (the kernel's names are a fixed set)."""

    def collect(self) -> Iterable[Metric]:
        for field, value in parse_vmstat(read_vmstat(self.context), self.fields, self.matched):
            family = exact_untyped(f"node_vmstat_{field}", f"/proc/vmstat information field {field}.")
            family.add_metric([], value)
            yield family


@dataclass(frozen=True)
class VmstatOptions:
    """The vmstat collector's flags (``--collector.vmstat.*``)."""

    fields: str = option("--collector.vmstat.fields", DEFAULT_FIELDS,
                         "Regexp of fields to return for vmstat collector.")


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=VmstatCollector, enabled_by_default=True,
    help="Exposes statistics from /proc/vmstat.", options=VmstatOptions,
    source="/proc/vmstat",
    families=(FamilyDoc("node_vmstat_<field>"),),
)
