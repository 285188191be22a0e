"""interrupts (off by default): ``node_interrupts_total{cpu,type,info,devices}`` from /proc/interrupts.

The header names one column per CPU. A numbered IRQ's first word after the counts is its
chip (``info``) and the rest its ``devices``; a named one (``NMI``, ``LOC``...) has only
``info``. Rows with fewer columns than CPUs (``ERR``, ``MIS``) are skipped. The name is
split off at the first ``:`` because aarch64 kernels print no blank after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

NAME = "interrupts"


@dataclass(frozen=True)
class Interrupt:
    info: str
    devices: str
    values: list[str]


def read_interrupts(context: NodeContext) -> str:
    return read_text(context.proc("interrupts"))


def parse_interrupts(text: str) -> dict[str, Interrupt]:
    lines = text.splitlines()
    if not lines:
        raise ValueError("interrupts empty")
    cpus = len(lines[0].split())
    out: dict[str, Interrupt] = {}
    for line in lines[1:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if len(parts) < cpus + 1:
            continue
        name = name.lstrip(" ")
        if _is_atoi(name):
            out[name] = Interrupt(parts[cpus], " ".join(parts[cpus + 1:]), parts[:cpus])
        else:
            out[name] = Interrupt(" ".join(parts[cpus:]), "", parts[:cpus])
    return out


def _is_atoi(text: str) -> bool:
    body = text[1:] if text[:1] in ("+", "-") else text
    return bool(body) and body.isascii() and body.isdigit()


class InterruptsCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        family = CounterFamily("node_interrupts", "Interrupt details.",
                                     labels=["cpu", "type", "info", "devices"])
        for name, interrupt in parse_interrupts(read_interrupts(self.context)).items():
            for cpu, value in enumerate(interrupt.values):
                try:
                    number = go_parse_float(value)
                except ValueError as err:
                    raise ValueError(f"invalid value {value} in interrupts") from err
                family.add_metric([str(cpu), name, interrupt.info, interrupt.devices], number)
        yield family


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=InterruptsCollector, enabled_by_default=False, help="Exposes detailed interrupts statistics.",
    source="/proc/interrupts",
)
