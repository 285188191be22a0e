"""drbd: DRBD 8 device state from /proc/drbd, ``node_drbd_*{device}``.

The file is read as whitespace-separated ``key:value`` tokens (node_exporter's scanner):
``N:`` starts device ``drbdN``; the counters of ``ns:``, ``nr:``, ``dw:``... and the
``local/remote`` pairs of ``ro:`` and ``ds:`` belong to the current device; anything else
(version lines, progress bars) is skipped. DRBD 9 moved these statistics to debugfs and
``drbdsetup events2``; its /proc/drbd has only the version (no series, as upstream).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.collectors._strconv import go_parse_float, go_parse_uint
from exporters.node.context import NodeContext

NAME = "drbd"

# key -> (metric, help, counter?, multiplier): sizes the kernel prints in KiB are exported in bytes.
NUMERICAL: dict[str, tuple[str, str, bool, float]] = {
    "ns": ("node_drbd_network_sent_bytes_total", "Total number of bytes sent via the network.", True, 1024),
    "nr": ("node_drbd_network_received_bytes_total", "Total number of bytes received via the network.", True, 1),
    "dw": ("node_drbd_disk_written_bytes_total", "Net data written on local hard disk; in bytes.", True, 1024),
    "dr": ("node_drbd_disk_read_bytes_total", "Net data read from local hard disk; in bytes.", True, 1024),
    "al": ("node_drbd_activitylog_writes_total", "Number of updates of the activity log area of the meta data.",
           True, 1),
    "bm": ("node_drbd_bitmap_writes_total", "Number of updates of the bitmap area of the meta data.", True, 1),
    "lo": ("node_drbd_local_pending", "Number of open requests to the local I/O sub-system.", False, 1),
    "pe": ("node_drbd_remote_pending",
           "Number of requests sent to the peer, but that have not yet been answered by the latter.", False, 1),
    "ua": ("node_drbd_remote_unacknowledged",
           "Number of requests received by the peer via the network connection, but that have not yet been answered.",
           False, 1),
    "ap": ("node_drbd_application_pending",
           "Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.", False, 1),
    "ep": ("node_drbd_epochs", "Number of Epochs currently on the fly.", False, 1),
    "oos": ("node_drbd_out_of_sync_bytes", "Amount of data known to be out of sync; in bytes.", False, 1024),
}
# key -> (metric, help, the value that counts as 1): "local/remote" pairs.
STRING_PAIRS: dict[str, tuple[str, str, str]] = {
    "ro": ("node_drbd_node_role_is_primary", "Whether the role of the node is in the primary state.", "Primary"),
    "ds": ("node_drbd_disk_state_is_up_to_date", "Whether the disk of the node is up to date.", "UpToDate"),
}
CONNECTED = ("node_drbd_connected", "Whether DRBD is connected to the peer.")


@dataclass(frozen=True)
class DrbdSample:
    metric: str
    """The key of NUMERICAL or STRING_PAIRS, or "cs"."""
    device: str
    value: float
    node: str = ""


def parse_drbd(text: str) -> tuple[list[DrbdSample], ValueError | None]:
    """The samples, and the error that stopped the parse (upstream keeps what came before it)."""
    samples: list[DrbdSample] = []
    device = "unknown"
    for field in text.split():
        kv = field.split(":")
        if len(kv) != 2:
            continue
        key, value = kv
        if value == "":
            try:
                device = f"drbd{go_parse_uint(key)}"
                continue
            except ValueError:
                pass
        if key in NUMERICAL:
            try:
                samples.append(DrbdSample(key, device, go_parse_float(value) * NUMERICAL[key][3]))
            except ValueError as err:
                return samples, ValueError(f"{key}: {err}")
        elif key in STRING_PAIRS:
            ok = STRING_PAIRS[key][2]
            # "local/remote"; a value without the remote half (upstream panics) gives local only
            for node, state in zip(("local", "remote"), value.split("/"), strict=False):
                samples.append(DrbdSample(key, device, 1.0 if state == ok else 0.0, node))
        elif key == "cs":
            samples.append(DrbdSample(key, device, 1.0 if value == "Connected" else 0.0))
    return samples, None


def drbd_families(samples: list[DrbdSample]) -> list[Metric]:
    families: dict[str, CounterFamily | GaugeFamily] = {}
    for sample in samples:
        family = families.get(sample.metric)
        if family is None:
            if sample.metric in NUMERICAL:
                name, documentation, counter, _ = NUMERICAL[sample.metric]
                family = (CounterFamily if counter else GaugeFamily)(name, documentation, labels=["device"])
            elif sample.metric in STRING_PAIRS:
                name, documentation, _ = STRING_PAIRS[sample.metric]
                family = GaugeFamily(name, documentation, labels=["device", "node"])
            else:
                family = GaugeFamily(*CONNECTED, labels=["device"])
            families[sample.metric] = family
        family.add_metric([sample.device, sample.node] if sample.metric in STRING_PAIRS else [sample.device],
                          sample.value)
    return list(families.values())


class DrbdCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterator[Metric]:
        try:
            text = read_text(self.context.proc("drbd"))
        except FileNotFoundError as err:
            raise NoDataError(f"stats file {err.filename} does not exist") from err
        samples, error = parse_drbd(text)
        yield from drbd_families(samples)
        if error is not None:
            raise error


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=DrbdCollector, enabled_by_default=False,
    help="Exposes Distributed Replicated Block Device statistics (to version 8.4).",
    source="/proc/drbd",
)
