"""drm: AMD GPUs from /sys/class/drm/card[0-9]/device, ``node_drm_*{card}``.

Only cards whose ``device/uevent`` names ``DRIVER=amdgpu`` have statistics; as in procfs
(``ClassDRMCardAMDGPUStats``) every other card is still listed, with zero values and empty
info labels. A card whose uevent the driver refuses with ENODATA is left out. A missing
attribute reads as 0 (or ""); a value that is not a number reads as 0 too (upstream
dereferences a nil pointer there and the exporter dies).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.collectors._files import glob_sorted, sys_read_file
from exporters.node.collectors._strconv import go_parse_uint
from exporters.node.context import NodeContext

NAME = "drm"
AMDGPU = re.compile("DRIVER=amdgpu")
VENDOR = "amd"

# device attribute -> (metric, help), in upstream's output order.
VALUES: dict[str, tuple[str, str]] = {
    "gpu_busy_percent": ("node_drm_gpu_busy_percent", "How busy the GPU is as a percentage."),
    "mem_info_gtt_total": ("node_drm_memory_gtt_size_bytes",
                           "The size of the graphics translation table (GTT) block in bytes."),
    "mem_info_gtt_used": ("node_drm_memory_gtt_used_bytes",
                          "The used amount of the graphics translation table (GTT) block in bytes."),
    "mem_info_vram_total": ("node_drm_memory_vram_size_bytes", "The size of VRAM in bytes."),
    "mem_info_vram_used": ("node_drm_memory_vram_used_bytes", "The used amount of VRAM in bytes."),
    "mem_info_vis_vram_total": ("node_drm_memory_vis_vram_size_bytes", "The size of visible VRAM in bytes."),
    "mem_info_vis_vram_used": ("node_drm_memory_vis_vram_used_bytes", "The used amount of visible VRAM in bytes."),
}
# device attribute -> label of node_drm_card_info
INFO_LABELS: dict[str, str] = {
    "mem_info_vram_vendor": "memory_vendor",
    "power_dpm_force_performance_level": "power_performance_level",
    "unique_id": "unique_id",
}


@dataclass
class AMDGPUCard:
    name: str
    values: dict[str, int] = field(default_factory=dict)
    """VALUES attribute -> value (absent: 0)."""
    info: dict[str, str] = field(default_factory=dict)
    """INFO_LABELS attribute -> text (absent: "")."""


def parse_drm_value(text: str) -> int:
    """An attribute as procfs's ValueParser reads it (base prefixes allowed); unparsable: 0."""
    try:
        return go_parse_uint(text, 0)
    except ValueError:
        return 0


def read_card(path: str) -> AMDGPUCard | None:
    """One card, or None when its uevent is refused with ENODATA (the card is left out)."""
    card = AMDGPUCard(os.path.basename(path))
    try:
        uevent = sys_read_file(os.path.join(path, "device", "uevent"))
    except OSError as err:
        if err.errno == errno.ENODATA:
            return None
        raise
    if AMDGPU.search(uevent) is None:
        return card
    for attribute in (*VALUES, *INFO_LABELS):
        try:
            text = sys_read_file(os.path.join(path, "device", attribute))
        except OSError:
            continue
        if attribute in VALUES:
            card.values[attribute] = parse_drm_value(text)
        else:
            card.info[attribute] = text
    return card


class DrmCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context

    def collect(self) -> Iterable[Metric]:
        cards = [card for path in glob_sorted(self.context.sys("class", "drm", "card[0-9]"))
                 if (card := read_card(path)) is not None]
        info = GaugeFamily("node_drm_card_info", "Card information",
                           labels=["card", *INFO_LABELS.values(), "vendor"])
        families = {attribute: GaugeFamily(name, documentation, labels=["card"])
                    for attribute, (name, documentation) in VALUES.items()}
        for card in cards:
            info.add_metric([card.name, *(card.info.get(a, "") for a in INFO_LABELS), VENDOR], 1.0)
            for attribute, family in families.items():
                family.add_metric([card.name], card.values.get(attribute, 0))
        return [info, *families.values()]


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=DrmCollector, enabled_by_default=False,
    help="Expose GPU metrics using sysfs / DRM, amdgpu is the only driver which exposes this information through DRM.",
    source="/sys/class/drm/card<N>/device/ (amdgpu)",
)
