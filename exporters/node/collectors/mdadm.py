"""mdadm: Linux software RAID state from ``/proc/mdstat`` (https://raid.wiki.kernel.org/index.php/Mdstat)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import read_text
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "mdadm"

_STATUS_LINE = re.compile(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]")
_RECOVERY_BLOCKS = re.compile(r"\((\d+)/\d+\)")

# node_md_state{state=...} label -> activity state parsed from mdstat
STATES: tuple[tuple[str, str], ...] = (
    ("active", "active"),
    ("inactive", "inactive"),
    ("recovering", "recovering"),
    ("resync", "resyncing"),
    ("check", "checking"),
)


class MDStat(NamedTuple):
    name: str
    state: str
    disks_active: int
    disks_total: int
    disks_failed: int
    disks_spare: int
    blocks_total: int
    blocks_synced: int


def _status(device_line: str, status_line: str) -> tuple[int, int, int]:
    """(active, total, size) from an array's first two lines."""
    fields = status_line.split()
    if not fields:
        raise ValueError(f"unexpected status line {status_line!r}")
    if not re.fullmatch(r"[+-]?[0-9]+", fields[0]):
        raise ValueError(f"unexpected status line {status_line!r}")
    size = int(fields[0])
    if "raid0" in device_line or "linear" in device_line:
        # only member disks have a number in [] on the device line
        total = device_line.count("[")
        return total, total, size
    if "inactive" in device_line:
        return 0, 0, size
    match = _STATUS_LINE.search(status_line)
    if match is None:
        raise ValueError(f"could not find all substring matches in {status_line!r}")
    return int(match.group(3)), int(match.group(2)), size


def parse_mdstat(text: str) -> list[MDStat]:
    """Parse /proc/mdstat; a malformed array stanza is an error for the whole file."""
    stats: list[MDStat] = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip() or line[0] == " " or line.startswith("Personalities") or line.startswith("unused"):
            continue
        fields = line.split()
        if len(fields) < 3:
            raise ValueError(f"expected 3+ fields on md device line, got {line!r}")
        name, state = fields[0], fields[2]
        if len(lines) <= i + 3:
            raise ValueError(f"too few lines for md device {name!r}")
        failed = line.count("(F)")
        spare = line.count("(S)")
        active, total, size = _status(line, lines[i + 1])
        sync_idx = i + 2
        if "bitmap" in lines[i + 2]:
            sync_idx += 1
        sync_line = lines[sync_idx]
        synced = size
        recovering = "recovery" in sync_line
        resyncing = "resync" in sync_line
        checking = "check" in sync_line
        if recovering or resyncing or checking:
            state = "recovering" if recovering else "checking" if checking else "resyncing"
            if "PENDING" in sync_line or "DELAYED" in sync_line:
                synced = 0
            else:
                synced = _recovery_blocks(name, sync_line)
        stats.append(MDStat(name, state, active, total, failed, spare, size, synced))
    return stats


def _recovery_blocks(name: str, line: str) -> int:
    """Blocks synced so far; the percentage, finish and speed fields must be present too."""
    match = _RECOVERY_BLOCKS.search(line)
    if match is None:
        raise ValueError(f"cannot parse sync line of md device {name!r}: {line!r}")
    pct = re.search(r"= (.+)%", line)
    finish = re.search(r"finish=(.+)min", line)
    speed = re.search(r"speed=(.+)[A-Z]", line)
    try:
        if pct is None or finish is None or speed is None:
            raise ValueError
        float(pct.group(1).strip())
        float(finish.group(1))
        float(speed.group(1))
    except ValueError:
        raise ValueError(f"cannot parse sync line of md device {name!r}: {line!r}") from None
    return int(match.group(1))


class MdadmCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        try:
            text = read_text(self.context.proc("mdstat"))
        except FileNotFoundError:
            LOGGER.debug("Not collecting mdstat, file does not exist", extra={"collector": NAME})
            raise NoDataError("mdstat does not exist") from None
        arrays = parse_mdstat(text)
        required = GaugeFamily("node_md_disks_required", "Total number of disks of device.",
                                     labels=["device"])
        disks = GaugeFamily("node_md_disks", "Number of active/failed/spare disks of device.",
                                  labels=["device", "state"])
        state = GaugeFamily("node_md_state", "Indicates the state of md-device.", labels=["device", "state"])
        blocks = GaugeFamily("node_md_blocks", "Total number of blocks on device.", labels=["device"])
        synced = GaugeFamily("node_md_blocks_synced", "Number of blocks synced on device.", labels=["device"])
        for md in arrays:
            required.add_metric([md.name], float(md.disks_total))
            disks.add_metric([md.name, "active"], float(md.disks_active))
            disks.add_metric([md.name, "failed"], float(md.disks_failed))
            disks.add_metric([md.name, "spare"], float(md.disks_spare))
            for label, parsed in STATES:
                state.add_metric([md.name, label], 1.0 if md.state == parsed else 0.0)
            blocks.add_metric([md.name], float(md.blocks_total))
            synced.add_metric([md.name], float(md.blocks_synced))
        return [required, disks, state, blocks, synced]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=MdadmCollector, enabled_by_default=True,
    help="Exposes statistics about devices in /proc/mdstat (does nothing if no /proc/mdstat present).",
    source="/proc/mdstat",
)
