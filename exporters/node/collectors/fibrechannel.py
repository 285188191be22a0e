"""fibrechannel: Fibre Channel HBA ports from ``/sys/class/fc_host/<host>/``."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._files import list_dir, sys_read_file
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "fibrechannel"
# An HBA reports a counter it does not implement as all ones.
UNIMPLEMENTED = (1 << 64) - 1

# host attribute -> info label; hexadecimal ones lose their "0x"
ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("speed", "speed"),
    ("port_state", "port_state"),
    ("port_type", "port_type"),
    ("port_id", "port_id"),
    ("port_name", "port_name"),
    ("fabric_name", "fabric_name"),
    ("symbolic_name", "symbolic_name"),
    ("supported_classes", "supported_classes"),
    ("supported_speeds", "supported_speeds"),
    ("dev_loss_tmo", "dev_loss_tmo"),
)
# read (and required) but not exported
OTHER_ATTRIBUTES = ("node_name",)
HEX_ATTRIBUTES = frozenset({"node_name", "port_id", "port_name", "fabric_name"})

# statistics file -> (metric, help)
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("dumped_frames", "dumped_frames_total", "Number of dumped frames"),
    ("error_frames", "error_frames_total", "Number of errors in frames"),
    ("invalid_crc_count", "invalid_crc_total", "Invalid Cyclic Redundancy Check count"),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    ("rx_words", "rx_words_total", "Number of words received by host port"),
    ("tx_frames", "tx_frames_total", "Number of frames transmitted by host port"),
    ("tx_words", "tx_words_total", "Number of words transmitted by host port"),
    ("seconds_since_last_reset", "seconds_since_last_reset_total", "Number of seconds since last host port reset"),
    ("invalid_tx_word_count", "invalid_tx_words_total", "Number of invalid words transmitted by host port"),
    ("link_failure_count", "link_failure_total", "Number of times the host port link has failed"),
    ("loss_of_sync_count", "loss_of_sync_total", "Number of failures on either bit or transmission word boundaries"),
    ("loss_of_signal_count", "loss_of_signal_total", "Number of times signal has been lost"),
    ("nos_count", "nos_total", "Number Not_Operational Primitive Sequence received by host port"),
    ("fcp_packet_aborts", "fcp_packet_aborts_total", "Number of aborted packets"),
)
_KNOWN = {file for file, _, _ in COUNTERS}
_SKIPPED_ERRORS = (errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL)


class FibreChannelHost(NamedTuple):
    name: str
    attributes: dict[str, str]
    counters: dict[str, int]


def read_fc_host(path: str) -> FibreChannelHost:
    attributes: dict[str, str] = {}
    for attr in (*(a for a, _ in ATTRIBUTES), *OTHER_ATTRIBUTES):
        value = sys_read_file(os.path.join(path, attr))
        if attr in HEX_ATTRIBUTES and len(value) > 2:
            value = value[2:]
        attributes[attr] = value
    counters = dict.fromkeys(_KNOWN, 0)
    stats = os.path.join(path, "statistics")
    for entry in sorted(os.scandir(stats), key=lambda e: e.name):
        if not entry.is_file(follow_symlinks=False) or entry.name == "reset_statistics":
            continue
        try:
            text = sys_read_file(entry.path)
        except OSError as err:
            # statistics the driver does not implement fail to read
            if err.errno in _SKIPPED_ERRORS:
                continue
            raise
        if entry.name in _KNOWN:
            counters[entry.name] = go_parse_uint(text, 0)
    return FibreChannelHost(os.path.basename(path), attributes, counters)


class FibrechannelCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        base = self.context.sys("class", "fc_host")
        try:
            names = list_dir(base)
        except FileNotFoundError:
            LOGGER.debug("fibrechannel statistics not found, skipping", extra={"collector": NAME})
            raise NoDataError("no /sys/class/fc_host") from None
        hosts = [read_fc_host(os.path.join(base, name)) for name in names]
        info = GaugeFamily(
            "node_fibrechannel_info", "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
            labels=["fc_host", *(label for _, label in ATTRIBUTES)],
        )
        counters = [CounterFamily(f"node_fibrechannel_{metric.removesuffix('_total')}", doc,
                                        labels=["fc_host"]) for _, metric, doc in COUNTERS]
        for host in hosts:
            info.add_metric([host.name, *(host.attributes[attr] for attr, _ in ATTRIBUTES)], 1.0)
            for family, (file, _, _) in zip(counters, COUNTERS, strict=True):
                value = host.counters[file]
                if value != UNIMPLEMENTED:
                    family.add_metric([host.name], float(value))
        return [info, *counters]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=FibrechannelCollector, enabled_by_default=True,
    help="Exposes fibre channel information and statistics from /sys/class/fc_host/.",
    source="/sys/class/fc_host/<host>/",
)
