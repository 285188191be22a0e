"""qdisc (off by default): statistics of each device's root queueing discipline, over rtnetlink.

``node_qdisc_*{device,kind}`` from an RTM_GETQDISC dump: ``TCA_STATS2``'s basic and queue
statistics, then the compat ``TCA_STATS`` (which the kernel appends after it) for the
fields it has, as upstream's library reads them. Only root qdiscs (parent TC_H_ROOT) are
reported; ``--collector.qdisc.device-include/-exclude`` filter by device.

``--collector.qdisc.fixtures=DIR`` reads ``DIR/results.json`` instead: a JSON array of
objects with upstream's ``QdiscInfo`` field names (matched case-insensitively, as Go's
encoding/json does); a value of the wrong type or out of range fails the scrape.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.core.options import option
from exporters.node.collectors._flags import DeviceFilter, device_filter, with_deprecated_alias
from exporters.node.collectors._gojson import Schema, decode_array, decode_struct, read_file
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._netlink import NETLINK_ROUTE, attribute_map, parse_attributes, request, text
from exporters.node.collectors._rtnl import link_names, read_links
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "qdisc"

TCMSG = struct.Struct("=BxxxiIII")  # family, ifindex, handle, parent, info
RTM_NEWQDISC, RTM_GETQDISC = 36, 38
TCA_KIND, TCA_STATS, TCA_STATS2 = 1, 3, 7
TCA_STATS_BASIC, TCA_STATS_QUEUE = 1, 3
TC_H_ROOT = 0xFFFFFFFF

# (metric, help, counter?, QdiscInfo field) in upstream's order.
METRICS = (
    ("node_qdisc_bytes_total", "Number of bytes sent.", True, "bytes"),
    ("node_qdisc_packets_total", "Number of packets sent.", True, "packets"),
    ("node_qdisc_drops_total", "Number of packets dropped.", True, "drops"),
    ("node_qdisc_requeues_total", "Number of packets dequeued, not transmitted, and requeued.", True, "requeues"),
    ("node_qdisc_overlimits_total", "Number of overlimit packets.", True, "overlimits"),
    ("node_qdisc_current_queue_length", "Number of packets currently in queue to be sent.", False, "qlen"),
    ("node_qdisc_backlog", "Number of bytes currently in queue to be sent.", False, "backlog"),
)


@dataclass(frozen=True)
class Qdisc:
    """upstream's QdiscInfo (the fields the collector reads, plus the ones fixtures may carry)."""

    iface_name: str = ""
    parent: int = 0
    handle: int = 0
    kind: str = ""
    bytes: int = 0
    packets: int = 0
    drops: int = 0
    requeues: int = 0
    overlimits: int = 0
    gc_flows: int = 0
    throttled: int = 0
    flows_plimit: int = 0
    qlen: int = 0
    backlog: int = 0


# results.json: upstream's QdiscInfo fields.
FIXTURE_FIELDS: Schema = {
    "ifacename": ("iface_name", ("str", 0)), "parent": ("parent", ("uint", 32)), "handle": ("handle", ("uint", 32)),
    "kind": ("kind", ("str", 0)), "bytes": ("bytes", ("uint", 64)), "packets": ("packets", ("uint", 32)),
    "drops": ("drops", ("uint", 32)), "requeues": ("requeues", ("uint", 32)),
    "overlimits": ("overlimits", ("uint", 32)), "gcflows": ("gc_flows", ("uint", 64)),
    "throttled": ("throttled", ("uint", 64)), "flowsplimit": ("flows_plimit", ("uint", 64)),
    "qlen": ("qlen", ("uint", 32)), "backlog": ("backlog", ("uint", 32)),
}
# Nested TCA_STATS2 attribute -> (struct layout, fields); the compat TCA_STATS's layout.
STATS2_LAYOUTS = {
    TCA_STATS_BASIC: (struct.Struct("=QI"), ("bytes", "packets")),
    TCA_STATS_QUEUE: (struct.Struct("=IIIII"), ("qlen", "backlog", "drops", "requeues", "overlimits")),
}
TC_STATS = (struct.Struct("=QIIIIIII"), ("bytes", "packets", "drops", "overlimits", None, None, "qlen", "backlog"))


def _unpack(value: bytes, layout: struct.Struct, names: tuple[str | None, ...]) -> dict[str, int]:
    if len(value) < layout.size:
        return {}  # a short structure: its fields stay as they were
    return {name: number for name, number in zip(names, layout.unpack_from(value), strict=True) if name}


def parse_qdisc(payload: bytes, names: dict[int, str]) -> Qdisc:
    """One RTM_NEWQDISC payload; a short header or malformed attributes raise ValueError."""
    if len(payload) < TCMSG.size:
        raise ValueError(f"short message, len={len(payload)}")
    _, ifindex, handle, parent, _ = TCMSG.unpack_from(payload)
    values: dict[str, Any] = {"iface_name": names.get(ifindex, ""), "handle": handle,
                              "parent": 0 if parent == TC_H_ROOT else parent}
    for kind, value in parse_attributes(payload[TCMSG.size:]):
        if kind == TCA_KIND:
            values["kind"] = text(value) or ""
        elif kind == TCA_STATS2:
            nested = attribute_map(value)
            for attr, (layout, names_) in STATS2_LAYOUTS.items():
                if attr in nested:
                    values.update(_unpack(nested[attr], layout, names_))
        elif kind == TCA_STATS:
            values.update(_unpack(value, *TC_STATS))
    return Qdisc(**values)


def parse_qdiscs(payloads: Iterable[bytes], names: dict[int, str]) -> list[Qdisc]:
    result = []
    for payload in payloads:
        try:
            result.append(parse_qdisc(payload, names))
        except ValueError as err:
            LOGGER.debug("skipping a malformed qdisc message", extra={"collector": NAME, "err": str(err)})
    return result


def read_qdiscs() -> list[Qdisc]:
    body = TCMSG.pack(0, 0, 0, 0, 0)
    payloads = [m.payload for m in request(NETLINK_ROUTE, RTM_GETQDISC, body, strict=True) if m.type == RTM_NEWQDISC]
    return parse_qdiscs(payloads, link_names(read_links()))


def parse_fixture(document: object) -> list[Qdisc]:
    """upstream's results.json (as ``_gojson.loads`` returns it): an array of QdiscInfo objects."""
    return [replace(Qdisc(), **(decode_struct(item, FIXTURE_FIELDS, "qdisc.QdiscInfo") if item is not None else {}))
            for item in decode_array(document, "qdisc.QdiscInfo")]


def read_fixture(directory: str) -> list[Qdisc]:
    return parse_fixture(read_file(os.path.join(directory, "results.json")))


class QdiscCollector:
    def __init__(self, devices: DeviceFilter, fixtures: str = "") -> None:
        self.devices = devices
        self.fixtures = fixtures

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        qdiscs = read_fixture(self.fixtures) if self.fixtures else read_qdiscs()
        families = [
            (CounterFamily(name, doc, labels=["device", "kind"]) if counter
             else GaugeFamily(name, doc, labels=["device", "kind"]), field)
            for name, doc, counter, field in METRICS
        ]
        for qdisc in qdiscs:
            if qdisc.parent != 0 or self.devices.ignored(qdisc.iface_name):
                continue
            for family, field in families:
                family.add_metric([qdisc.iface_name, qdisc.kind], float(getattr(qdisc, field)))
        return [family for family, _ in families]


@dataclass(frozen=True)
class QdiscOptions:
    """The qdisc collector's flags (``--collector.qdisc.*``)."""

    fixtures: str = option("--collector.qdisc.fixtures", "",
                           "test fixtures to use for qdisc collector end-to-end testing")
    device_include: str = option("--collector.qdisc.device-include", "",
                                 "Regexp of qdisc devices to include (mutually exclusive to device-exclude).")
    old_device_include: str = option("--collector.qdisk.device-include", "",
                                     "DEPRECATED: Use collector.qdisc.device-include", hidden=True)
    device_exclude: str = option("--collector.qdisc.device-exclude", "",
                                 "Regexp of qdisc devices to exclude (mutually exclusive to device-include).")
    old_device_exclude: str = option("--collector.qdisk.device-exclude", "",
                                     "DEPRECATED: Use collector.qdisc.device-exclude", hidden=True)


def build(context: NodeContext) -> QdiscCollector:
    options = context.options(QdiscOptions)
    include = with_deprecated_alias(options.device_include or None, options.old_device_include,
                                    "--collector.qdisc.device-include", "--collector.qdisk.device-include", "", NAME)
    exclude = with_deprecated_alias(options.device_exclude or None, options.old_device_exclude,
                                    "--collector.qdisc.device-exclude", "--collector.qdisk.device-exclude", "", NAME)
    return QdiscCollector(device_filter(exclude, include, "collector.qdisc"), options.fixtures)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=False, help="Exposes queuing discipline statistics.",
    options=QdiscOptions,
    source="rtnetlink RTM_GETQDISC dump (TCA_STATS2), root qdiscs",
)

