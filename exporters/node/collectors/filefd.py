"""filefd: ``node_filefd_allocated`` and ``node_filefd_maximum`` from /proc/sys/fs/file-nr."""

from __future__ import annotations

from collections.abc import Iterable

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

NAME = "filefd"
# Tab-separated column of file-nr -> metric suffix (column 1, the unused count, is always 0).
COLUMNS = {0: "allocated", 2: "maximum"}


def read_file_nr(context: NodeContext) -> str:
    return context.read_text(context.proc("sys/fs/file-nr"))


def parse_file_nr(text: str) -> dict[str, float]:
    parts = text.strip().split("\t")
    if len(parts) < 3:
        raise ValueError("unexpected number of file stats in file-nr")
    out: dict[str, float] = {}
    for column, name in COLUMNS.items():
        try:
            out[name] = go_parse_float(parts[column])
        except ValueError as err:
            raise ValueError(f"invalid value {parts[column]!r} in file-nr") from err
    return out


class FilefdCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        for name, value in parse_file_nr(read_file_nr(self.context)).items():
            yield GaugeFamily(f"node_filefd_{name}", f"File descriptor statistics: {name}.", value=value)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=FilefdCollector, enabled_by_default=True, help="Exposes file descriptor statistics.",
    source="/proc/sys/fs/file-nr",
)
