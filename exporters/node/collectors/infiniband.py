"""infiniband: /sys/class/infiniband/<device>/ports/<port>/ state, rate and counters.

Counter files follow procfs' rules: unreadable ones (EACCES, EOPNOTSUPP) are
skipped, ``N/A (no PMA)`` means absent, the ``*_data`` counters are in 4-byte words, the
rate is read as a float32 Gb/s and exported as bytes/s.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._files import read_attribute_files, read_text, sys_read_file
from exporters.node.collectors._labels import without_invalid_utf8
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")
NAME = "infiniband"
# procfs skips these (its os.ErrInvalid test never matches an errno, so EINVAL is an error).
SKIPPED_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EOPNOTSUPP}

# counters/<file> -> (metric suffix, multiplier)
COUNTERS = {
    "excessive_buffer_overrun_errors": ("excessive_buffer_overrun_errors_total", 1),
    "link_downed": ("link_downed_total", 1),
    "link_error_recovery": ("link_error_recovery_total", 1),
    "local_link_integrity_errors": ("local_link_integrity_errors_total", 1),
    "multicast_rcv_packets": ("multicast_packets_received_total", 1),
    "multicast_xmit_packets": ("multicast_packets_transmitted_total", 1),
    "port_rcv_constraint_errors": ("port_constraint_errors_received_total", 1),
    "port_rcv_data": ("port_data_received_bytes_total", 4),
    "port_rcv_discards": ("port_discards_received_total", 1),
    "port_rcv_errors": ("port_errors_received_total", 1),
    "port_rcv_packets": ("port_packets_received_total", 1),
    "port_rcv_remote_physical_errors": ("port_receive_remote_physical_errors_total", 1),
    "port_rcv_switch_relay_errors": ("port_receive_switch_relay_errors_total", 1),
    "port_xmit_constraint_errors": ("port_constraint_errors_transmitted_total", 1),
    "port_xmit_data": ("port_data_transmitted_bytes_total", 4),
    "port_xmit_discards": ("port_discards_transmitted_total", 1),
    "port_xmit_packets": ("port_packets_transmitted_total", 1),
    "port_xmit_wait": ("port_transmit_wait_total", 1),
    "symbol_error": ("symbol_error_total", 1),
    "unicast_rcv_packets": ("unicast_packets_received_total", 1),
    "unicast_xmit_packets": ("unicast_packets_transmitted_total", 1),
    "VL15_dropped": ("vl15_dropped_total", 1),
}

# counters_ext/<file> (the legacy 64-bit counters) -> (metric suffix, multiplier)
EXT_COUNTERS = {
    "port_multicast_rcv_packets": ("legacy_multicast_packets_received_total", 1),
    "port_multicast_xmit_packets": ("legacy_multicast_packets_transmitted_total", 1),
    "port_rcv_data_64": ("legacy_data_received_bytes_total", 4),
    "port_rcv_packets_64": ("legacy_packets_received_total", 1),
    "port_unicast_rcv_packets": ("legacy_unicast_packets_received_total", 1),
    "port_unicast_xmit_packets": ("legacy_unicast_packets_transmitted_total", 1),
    "port_xmit_data_64": ("legacy_data_transmitted_bytes_total", 4),
    "port_xmit_packets_64": ("legacy_packets_transmitted_total", 1),
}

HELP = {
    "legacy_multicast_packets_received_total": "Number of multicast packets received",
    "legacy_multicast_packets_transmitted_total": "Number of multicast packets transmitted",
    "legacy_data_received_bytes_total": "Number of data octets received on all links",
    "legacy_packets_received_total": "Number of data packets received on all links",
    "legacy_unicast_packets_received_total": "Number of unicast packets received",
    "legacy_unicast_packets_transmitted_total": "Number of unicast packets transmitted",
    "legacy_data_transmitted_bytes_total": "Number of data octets transmitted on all links",
    "legacy_packets_transmitted_total": "Number of data packets received on all links",
    "excessive_buffer_overrun_errors_total": "Number of times that OverrunErrors consecutive flow control update "
    "periods occurred, each having at least one overrun error.",
    "link_downed_total": "Number of times the link failed to recover from an error state and went down",
    "link_error_recovery_total": "Number of times the link successfully recovered from an error state",
    "local_link_integrity_errors_total": "Number of times that the count of local physical errors exceeded the "
    "threshold specified by LocalPhyErrors.",
    "multicast_packets_received_total": "Number of multicast packets received (including errors)",
    "multicast_packets_transmitted_total": "Number of multicast packets transmitted (including errors)",
    "physical_state_id": "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, "
    "4: shift, 5: link up, 6: link error recover, 7: phytest)",
    "port_constraint_errors_received_total": "Number of packets received on the switch physical port that are "
    "discarded",
    "port_constraint_errors_transmitted_total": "Number of packets not transmitted from the switch physical port",
    "port_data_received_bytes_total": "Number of data octets received on all links",
    "port_data_transmitted_bytes_total": "Number of data octets transmitted on all links",
    "port_discards_received_total": "Number of inbound packets discarded by the port because the port is down or "
    "congested",
    "port_discards_transmitted_total": "Number of outbound packets discarded by the port because the port is down "
    "or congested",
    "port_errors_received_total": "Number of packets containing an error that were received on this port",
    "port_packets_received_total": "Number of packets received on all VLs by this port (including errors)",
    "port_packets_transmitted_total": "Number of packets transmitted on all VLs from this port (including errors)",
    "port_transmit_wait_total": "Number of ticks during which the port had data to transmit but no data was sent "
    "during the entire tick",
    "rate_bytes_per_second": "Maximum signal transfer rate",
    "state_id": "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
    "unicast_packets_received_total": "Number of unicast packets received (including errors)",
    "unicast_packets_transmitted_total": "Number of unicast packets transmitted (including errors)",
    "port_receive_remote_physical_errors_total": "Number of packets marked with the EBP (End of Bad Packet) "
    "delimiter received on the port.",
    "port_receive_switch_relay_errors_total": "Number of packets that could not be forwarded by the switch.",
    "symbol_error_total": "Number of minor link errors detected on one or more physical lanes.",
    "vl15_dropped_total": "Number of incoming VL15 packets dropped due to resource limitations.",
}

# Emission order of the counters (infiniband_linux.go).
COUNTER_ORDER = (
    "legacy_multicast_packets_received_total", "legacy_multicast_packets_transmitted_total",
    "legacy_data_received_bytes_total", "legacy_packets_received_total",
    "legacy_unicast_packets_received_total", "legacy_unicast_packets_transmitted_total",
    "legacy_data_transmitted_bytes_total", "legacy_packets_transmitted_total",
    "excessive_buffer_overrun_errors_total", "link_downed_total", "link_error_recovery_total",
    "local_link_integrity_errors_total", "multicast_packets_received_total", "multicast_packets_transmitted_total",
    "port_constraint_errors_received_total", "port_constraint_errors_transmitted_total",
    "port_data_received_bytes_total", "port_data_transmitted_bytes_total", "port_discards_received_total",
    "port_discards_transmitted_total", "port_errors_received_total", "port_packets_received_total",
    "port_packets_transmitted_total", "port_transmit_wait_total", "unicast_packets_received_total",
    "unicast_packets_transmitted_total", "port_receive_remote_physical_errors_total",
    "port_receive_switch_relay_errors_total", "symbol_error_total", "vl15_dropped_total",
)


@dataclass
class Port:
    """One port of an InfiniBand device, with its counters."""

    device: str
    port: int
    state_id: int
    phys_state_id: int
    rate: int
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class Device:
    """One device of /sys/class/infiniband/ and its ports."""

    name: str
    firmware_version: str = ""
    board_id: str = ""
    hca_type: str = ""
    ports: list[Port] = field(default_factory=list)


def parse_state(text: str) -> int:
    """``4: ACTIVE`` -> 4."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"failed to split {text!r} into 'ID: NAME'")
    return go_parse_uint(parts[0].strip(), 10, 32)


def parse_rate(text: str) -> int:
    """``100 Gb/sec (4X EDR)`` -> bytes/s, through a float32 as procfs parses it."""
    parts = text.split(" ", 1)
    if len(parts) != 2:
        raise ValueError(f"failed to split {text!r}")
    try:
        value = float(parts[0].strip())
    except ValueError as err:
        raise ValueError(f"failed to convert {parts[0].strip()} into uint") from err
    try:
        as_float32 = struct.unpack("f", struct.pack("f", value))[0]
        return int(as_float32 * 125000000)
    except (OverflowError, ValueError) as err:
        # out of float32's range, or infinite/NaN: Go's ParseFloat(s, 32) reports a range error
        raise ValueError(f"failed to convert {parts[0].strip()} into uint: out of range") from err


def parse_counters(files: dict[str, str], table: dict[str, tuple[str, int]]) -> dict[str, int]:
    """Counter file contents -> metric suffix -> value; ``N/A (no PMA)`` means absent."""
    counters = {}
    for filename, raw in files.items():
        if filename not in table:
            continue
        suffix, multiplier = table[filename]
        try:
            value = go_parse_uint(raw, 0)
        except ValueError:
            if "N/A (no PMA)" in raw:
                continue
            raise
        counters[suffix] = (value * multiplier) % 2**64
    return counters


class InfinibandCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def _path(self, *parts: str) -> str:
        return self.context.sys("class", "infiniband", *parts)

    def read_counter_dir(self, directory: str, optional: bool) -> dict[str, str]:
        try:
            return read_attribute_files(directory, SKIPPED_ERRNOS)
        except FileNotFoundError:
            if optional and not os.path.isdir(directory):
                return {}
            raise

    def read_port(self, device: str, port: str) -> Port:
        number = go_parse_uint(port, 10, 32)
        path = self._path(device, "ports", port)

        def text(name: str) -> str:
            return read_text(os.path.join(path, name))

        result = Port(device, number, parse_state(text("state")), parse_state(text("phys_state")),
                      parse_rate(text("rate")))
        result.counters.update(parse_counters(self.read_counter_dir(os.path.join(path, "counters"), False), COUNTERS))
        result.counters.update(parse_counters(self.read_counter_dir(os.path.join(path, "counters_ext"), True),
                                              EXT_COUNTERS))
        if "mlx5" in device:
            # procfs requires hw_counters for mlx5 devices (it parses them; node_exporter exports none).
            self.read_counter_dir(os.path.join(path, "hw_counters"), False)
        return result

    def read_device(self, name: str) -> Device:
        device = Device(name, firmware_version=sys_read_file(self._path(name, "fw_ver"), errors="surrogateescape"))
        for attr in ("board_id", "hca_type"):
            try:
                setattr(device, attr, sys_read_file(self._path(name, attr), errors="surrogateescape"))
            except FileNotFoundError:
                continue
        for port in sorted(os.listdir(self._path(name, "ports"))):
            device.ports.append(self.read_port(name, port))
        return device

    def devices(self) -> list[Device]:
        try:
            return [self.read_device(name) for name in sorted(os.listdir(self._path()))]
        except FileNotFoundError as err:
            # Upstream: any missing file or directory of the class tree means "no data".
            raise NoDataError(f"infiniband statistics not found, skipping: {err.filename}") from err

    def collect(self) -> Iterator[Metric]:
        return without_invalid_utf8(self._collect(), LOGGER, NAME)

    def _collect(self) -> Iterable[Metric]:
        devices = self.devices()
        info = GaugeFamily("node_infiniband_info",
                                 "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
                                 labels=["device", "board_id", "firmware_version", "hca_type"])
        gauges = {name: GaugeFamily(f"node_infiniband_{name}", HELP[name], labels=["device", "port"])
                  for name in ("state_id", "physical_state_id", "rate_bytes_per_second")}
        counters = {name: CounterFamily(f"node_infiniband_{name}", HELP[name], labels=["device", "port"])
                    for name in COUNTER_ORDER}
        for device in devices:
            info.add_metric([device.name, device.board_id, device.firmware_version, device.hca_type], 1.0)
            for port in device.ports:
                labels = [port.device, str(port.port)]
                gauges["state_id"].add_metric(labels, float(port.state_id))
                gauges["physical_state_id"].add_metric(labels, float(port.phys_state_id))
                gauges["rate_bytes_per_second"].add_metric(labels, float(port.rate))
                for name in COUNTER_ORDER:
                    if name in port.counters:
                        counters[name].add_metric(labels, float(port.counters[name]))
        return [info, *gauges.values(), *counters.values()]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=InfinibandCollector, enabled_by_default=True,
    help="Exposes network statistics specific to InfiniBand and Intel OmniPath configurations.",
    source="/sys/class/infiniband/<device>/ and its ports/<port>/ (state, rate, counters/)",
)
