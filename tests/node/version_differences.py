"""node_exporter reference versions -> v1.7.0 (our target): every known difference.

The golden test and the live side-by-side test compare our output with a reference binary
after applying this table. There are two references (``GENERATIONS``): Debian 12's v1.5.0
("bookworm", the default) and Debian 13's v1.9.0 ("trixie", for collectors whose golden
section comes from it: see ``reference`` in tests/node/golden.py's COLLECTORS). Each row
names the reference it applies to, which samples it covers, what changed, why, and where
upstream changed it. Append a row when a collector's behaviour differs between its reference
and v1.7.0; never widen a pattern to hide an unexplained difference.

Kinds:
  added    v1.7.0 emits these samples and the reference does not: ignored in our output.
  removed  the reference emits these samples and v1.7.0 does not: ignored in the reference output.
  changed  both emit the sample but it differs: ``transform`` maps the reference sample to
           what v1.7.0 emits (or ``None`` to drop it when v1.7.0 does not emit that one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Labels = tuple[tuple[str, str], ...]
"""A sample's labels, sorted by name."""

Generation = Literal["bookworm", "trixie"]
"""A reference binary generation (tests.conftest.GENERATIONS)."""

REFERENCE_VERSIONS: dict[str, str] = {"bookworm": "v1.5.0", "trixie": "v1.9.0"}


@dataclass(frozen=True)
class Series:
    """One sample of a scrape: name, sorted labels, value."""

    name: str
    labels: Labels
    value: float

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


@dataclass(frozen=True)
class Difference:
    """One documented difference between a reference version and v1.7.0."""

    collector: str
    kind: Literal["added", "removed", "changed"]
    name: str
    """Regular expression matched against the whole sample name."""
    what: str
    why: str
    upstream: str
    """Upstream file and commit (prometheus/node_exporter) that made the change."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Optional label name -> regular expression: the sample must have the label, its whole value matching."""
    transform: Callable[[Series], Series | None] | None = None
    reference: Generation = "bookworm"
    """The reference whose output this row adjusts (v1.5.0 unless "trixie": v1.9.0)."""

    def matches(self, series: Series) -> bool:
        if re.fullmatch(self.name, series.name) is None:
            return False
        values = dict(series.labels)
        return all(
            label in values and re.fullmatch(rx, values[label]) is not None for label, rx in self.labels.items()
        )

    def covers_family(self, family: str) -> bool:
        """True when this row explains a whole family present on one side only."""
        return re.fullmatch(self.name, family) is not None


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        collector="cpu",
        kind="removed",
        name=r"node_cpu_(seconds_total|guest_seconds_total)",
        labels={"cpu": r"2"},
        what="v1.5.0 emits all-zero series for a CPU missing from /proc/stat (offline, with a higher-numbered "
        "CPU online); v1.7.0 keys CPUs by their number and emits only the CPUs listed.",
        why="The fixture's /proc/stat lists cpu0, cpu1 and cpu3 (cpu2 offline).",
        upstream="collector/cpu_linux.go, 39b4556b 'fix cpustat when some cpus are offline' and "
        "37d49746 'Remove metrics of offline CPUs in CPU collector' (procfs v0.12 Stat.CPU is a map)",
    ),
    Difference(
        collector="cpu",
        kind="added",
        name=r"node_cpu_frequency_hertz",
        labels={"package": r".*", "core": r".*"},
        what="With --collector.cpu.info and the cpufreq collector disabled, node_cpu_frequency_hertz"
        "{package,core,cpu} is emitted from /proc/cpuinfo's 'cpu MHz' (x 1e6).",
        why="New in v1.7.0.",
        upstream="collector/cpu_linux.go, 933b1c17 'Add new node_cpu_frequency_hertz metric'",
    ),
    Difference(
        collector="cpufreq",
        kind="added",
        name=r"node_cpu_scaling_governor",
        what="node_cpu_scaling_governor{cpu,governor}: 1 for the active governor, 0 for each other available one.",
        why="New in v1.7.0.",
        upstream="collector/cpufreq_linux.go, fe19fdd1/1724b28d 'feat: add support for cpu freq governor metrics'",
    ),
    Difference(
        collector="netclass",
        kind="changed",
        name=r"node_network_info",
        what="node_network_info gains the label adminstate (\"up\" when IFF_UP is set in "
        "/sys/class/net/<iface>/flags, \"down\" otherwise, \"unknown\" without flags).",
        why="New in v1.7.0. v1.5.0's sample carries no flags, so the expected label is derived from operstate "
        "(down -> down, anything else -> up): exact for the fixture interfaces, not for a live link that is "
        "administratively up with no carrier; tests/node/test_netclass.py checks the flags rule itself.",
        upstream="collector/netclass_linux.go, c8129fad 'Expose administrative state of network interfaces as "
        "adminstate' (#2515)",
        transform=lambda s: Series(
            s.name,
            tuple(sorted((*s.labels, ("adminstate", "down" if s.label("operstate") == "down" else "up")))),
            s.value,
        ),
    ),
    Difference(
        collector="softnet",
        kind="added",
        name=r"node_softnet_(cpu_collision_total|received_rps_total|flow_limit_count_total|backlog_len)",
        what="Four new families from /proc/net/softnet_stat columns 9-12: cpu_collision_total, "
        "received_rps_total, flow_limit_count_total, backlog_len.",
        why="New in v1.7.0 (procfs v0.12 parses the extra columns).",
        upstream="collector/softnet_linux.go, df1b53be 'softnet: additionals metrics from softnet_data' (#2592)",
    ),
    Difference(
        collector="diskstats",
        kind="changed",
        name=r"node_disk_info",
        labels={"device": r"sdb", "serial": r"6005076a1b2c3d4e5f6a7b8c9d0e1f20"},
        what="node_disk_info's serial label is udev's SCSI_IDENT_SERIAL (the serial on the disk label) when "
        "present, ID_SERIAL_SHORT otherwise; v1.5.0 always used ID_SERIAL_SHORT.",
        why="The fixture's udev/b8:16 (sdb) has both properties.",
        upstream="collector/diskstats_linux.go, c05b97ce 'Use SCSI_IDENT_SERIAL as serial' (#2612)",
        transform=lambda s: Series(
            s.name, tuple(sorted({**dict(s.labels), "serial": "LABEL-SERIAL-0042"}.items())), s.value
        ),
    ),
    Difference(
        collector="filesystem",
        kind="added",
        name=r"node_filesystem_readonly",
        labels={"mountpoint": r"/home/nfs|/srv/media library|/boot/efi|/mnt/.*"},
        what="node_filesystem_readonly is also emitted for a mount whose statfs failed "
        "(node_filesystem_device_error 1); v1.5.0 emitted it only for mounts that answered.",
        why="The fixture's mounts under /home, /srv, /boot and /mnt do not exist under root/, so statfs fails.",
        upstream="collector/filesystem_common.go, e387997e 'Move RO status before error return'",
    ),
    Difference(
        collector="bcache",
        kind="changed",
        name=r"node_bcache_cache_readaheads_total",
        what="node_bcache_cache_readaheads_total is omitted when the counter is 0 (the kernel stopped counting "
        "readaheads in 4.18).",
        why="The fixture's bdev1 has cache_readaheads 0.",
        upstream="collector/bcache_linux.go, dcb10ff2 'bcache: remove cache_readaheads_totals metrics' (#2583)",
        transform=lambda s: None if s.value == 0 else s,
    ),
    Difference(
        collector="zfs",
        kind="added",
        name=r"node_zfs_dbuf_.*|node_zfs_arc_memory_available_bytes",
        what="Signed 64-bit kstats (type 3, here arcstats' memory_available_bytes) are exported, and the dbuf "
        "kstats are read from dbufstats (v1.5.0 looked for dbuf_stats, which OpenZFS never wrote).",
        why="The fixture has proc/spl/kstat/zfs/dbufstats and a type-3 row in arcstats.",
        upstream="collector/zfs.go, 1bbb2a94 'fix(zfs): add memory_available_bytes, fix dbufstats filename on "
        "Linux' (#2687)",
    ),
    Difference(
        collector="zfs",
        kind="added",
        name=r"node_zfs_zpool_state",
        labels={"state": r"suspended"},
        what="node_zfs_zpool_state has a seventh state, suspended.",
        why="New in v1.7.0; the fixture's pool backup is SUSPENDED.",
        upstream="collector/zfs_linux.go, d31af1d1 'feat: added suspended as a node_zfs_zpool_state' (#2449)",
    ),
    Difference(
        collector="nfsd",
        kind="removed",
        name=r"node_nfsd_requests_total",
        labels={"proto": r"4", "method": r"Verify|Write|RelLockOwner"},
        what="v1.5.0 (procfs v0.8) read proc4ops without SETCLIENTID and SETCLIENTID_CONFIRM (ops 35, 36), so "
        "its Verify, Write and RelLockOwner are ops 35-37; v1.7.0 counts them as ops 37-39.",
        why="Values differ by design; tests/node/test_nfsd.py checks the v1.7.0 mapping.",
        upstream="collector/nfsd_linux.go, 86ed8cdc 'NFSd: fix nfsd v4 index miss' (#2824), procfs 8f5b8ca",
    ),
    Difference(
        collector="nfsd",
        kind="added",
        name=r"node_nfsd_requests_total",
        labels={"proto": r"4", "method": r"SetClientID|SetClientIDConfirm|Verify|Write|RelLockOwner"},
        what="node_nfsd_requests_total{proto=\"4\"} gains SetClientID and SetClientIDConfirm and takes Verify, "
        "Write and RelLockOwner from their right proc4ops columns.",
        why="New in v1.7.0; see the removed row above.",
        upstream="collector/nfsd_linux.go, 86ed8cdc 'NFSd: fix nfsd v4 index miss' (#2824)",
    ),
    Difference(
        collector="ethtool",
        kind="changed",
        name=r"node_ethtool_.*",
        what="v1.9.0 matches --collector.ethtool.metrics-include against the sanitized statistic name and "
        "reads the value under that name: a driver statistic whose name has characters outside "
        "[0-9A-Za-z_] (e.g. 'rx-errors') reports 0 and its HELP names the sanitized key. v1.7.0 matches "
        "and reads the raw name.",
        why="No veth statistic has such a name, so the samples compared are unchanged (identity); "
        "tests/node/test_ethtool.py checks the v1.7.0 rule.",
        upstream="collector/ethtool_linux.go, b3bbd1f5 'Sanitize ethtool metric name keys'",
        transform=lambda s: s,
        reference="trixie",
    ),
    Difference(
        collector="ethtool",
        kind="changed",
        name=r"node_(ethtool|network)_.*",
        what="v1.9.0 lists the devices of /sys/class/net without reading their attributes; v1.7.0 reads "
        "every attribute first and fails the collector when a device directory cannot be read.",
        why="Only a device vanishing mid-scrape shows it; the samples compared are unchanged (identity).",
        upstream="collector/ethtool_linux.go, edc40d1e 'collector/ethtool: skip full scan of NetClass "
        "directories' (#3239)",
        transform=lambda s: s,
        reference="trixie",
    ),
    Difference(
        collector="cpu_vulnerabilities",
        kind="changed",
        name=r"node_cpu_vulnerabilities_info",
        what="v1.9.0 adds the label mitigation (the text after the state word, \"\" when none); v1.7.0 has "
        "codename and state only.",
        why="Golden from v1.9.0 (v1.5.0 lacks the collector): the label is dropped from the reference sample.",
        upstream="collector/cpu_vulnerabilities_linux.go, 16f7122d 'Add mitigation information to the linux "
        "vulnerabilities collector' (#2806)",
        transform=lambda s: Series(s.name, tuple(kv for kv in s.labels if kv[0] != "mitigation"), s.value),
        reference="trixie",
    ),
)


@dataclass(frozen=True)
class HelpDifference:
    """A family whose ``# HELP`` text differs between its reference and v1.7.0 (type and samples unchanged)."""

    collector: str
    family: str
    reference: str
    """The reference's help text (as in golden.prom)."""
    target: str
    """The v1.7.0 help text (what we emit)."""
    upstream: str


HELP_DIFFERENCES: tuple[HelpDifference, ...] = tuple(
    HelpDifference(
        collector="cpufreq",
        family=f"node_cpu_frequency{suffix}_hertz",
        reference=f"{word} cpu thread frequency in hertz.",
        target=f"{word} CPU thread frequency in hertz.",
        upstream="collector/cpufreq_common.go, 3cd9b163 'Optimize cpufreq collector' (descriptions moved to "
        "cpufreq_common.go, 'cpu' spelt 'CPU')",
    )
    for suffix, word in (("", "Current"), ("_min", "Minimum"), ("_max", "Maximum"))
)


def expected_help(collector: str, family: str, reference_help: str,
                  differences: tuple[HelpDifference, ...] = HELP_DIFFERENCES) -> str:
    """The v1.7.0 help text of ``family``, given the reference's."""
    for diff in differences:
        if diff.collector == collector and diff.family == family and diff.reference == reference_help:
            return diff.target
    return reference_help


def for_reference(generation: str, differences: tuple[Difference, ...] = DIFFERENCES) -> tuple[Difference, ...]:
    """The rows that adjust the output of one reference generation."""
    if generation not in REFERENCE_VERSIONS:
        raise ValueError(f"unknown reference generation {generation!r}")
    return tuple(d for d in differences if d.reference == generation)


def applies(series: Series, kind: str, differences: tuple[Difference, ...] = DIFFERENCES) -> bool:
    """True when some row of ``kind`` covers ``series``."""
    return any(d.kind == kind and d.matches(series) for d in differences)


def expected_from_reference(
    reference: set[Series], differences: tuple[Difference, ...] = DIFFERENCES
) -> set[Series]:
    """What v1.7.0 would emit, given what the reference emitted: 'removed' dropped, 'changed' applied."""
    out: set[Series] = set()
    for series in reference:
        current: Series | None = series
        for diff in differences:
            if current is None:
                break
            if not diff.matches(current):
                continue
            if diff.kind == "removed":
                current = None
            elif diff.kind == "changed" and diff.transform is not None:
                current = diff.transform(current)
        if current is not None:
            out.add(current)
    return out


def without_added(ours: set[Series], differences: tuple[Difference, ...] = DIFFERENCES) -> set[Series]:
    """Our samples minus those v1.7.0 added (the reference cannot have them)."""
    return {s for s in ours if not applies(s, "added", differences)}


def family_explained(family: str, side: Literal["ours", "reference"],
                     differences: tuple[Difference, ...] = DIFFERENCES) -> Difference | None:
    """The row explaining why a whole family appears only on ``side``, if any."""
    wanted = "added" if side == "ours" else "removed"
    for diff in differences:
        if diff.kind in (wanted, "changed") and diff.covers_family(family):
            return diff
    return None


# Flags node_exporter 1.9.0 accepts on Linux that v1.7.0 does not (ours follows v1.7.0 and refuses
# them, as v1.7.0 would): flag -> the upstream change that added it.
FLAGS_ADDED_AFTER_V1_7_0: dict[str, str] = {
    "collector.filesystem.mount-points-include": "226c80c8 'Add filesystem include flags' (1.8.0)",
    "collector.filesystem.fs-types-include": "226c80c8 'Add filesystem include flags' (1.8.0)",
    "collector.hwmon.sensor-include": "e11a4f03 'Add include and exclude filter for sensors in hwmon' (#3072)",
    "collector.hwmon.sensor-exclude": "e11a4f03 'Add include and exclude filter for sensors in hwmon' (#3072)",
    "collector.interrupts.include-zeros": "e0c4a47a 'Add interrupts collector filtering' (#3028)",
    "collector.interrupts.name-include": "e0c4a47a 'Add interrupts collector filtering' (#3028)",
    "collector.interrupts.name-exclude": "e0c4a47a 'Add interrupts collector filtering' (#3028)",
    "collector.netdev.label-ifalias": "041d67d2 'Add ifAlias label to netdev collector' (#3087)",
    "collector.slabinfo.slabs-include": "dae4c87f 'slab-collector: add filter for slab name' (#3041)",
    "collector.slabinfo.slabs-exclude": "dae4c87f 'slab-collector: add filter for slab name' (#3041)",
    "collector.watchdog": "95efb86f 'Add new collector and metrics for watchdog' (#2880)",
    "collector.xfrm": "332232c2 'Add new collector and metrics for XFRM' (#2866)",
}
