"""The psutil backend (macOS/FreeBSD names) checked on Linux against the /proc collectors.

Both read the same kernel counters on this host, so a value from one must equal (or, for
counters that move between the two reads, be close to) the other's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import SimpleNamespace

import psutil
import pytest

from exporters.core.collector import Collector, NoDataError
from exporters.core.flags import ConfigError
from exporters.core.metrics import Metric
from exporters.node import psutil_backend as pb
from exporters.node.context import NodeContext
from tests.node.collected import samples

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def linux(*names: str) -> Samples:
    """Our /proc collectors on this host, default flags."""
    from exporters.node.main import build_parser, collector_specs

    specs = {spec.name: spec for spec in collector_specs()}
    args = build_parser(list(specs.values())).parse_args([])
    context = NodeContext(args=args)
    out: Samples = {}
    for name in names:
        if name not in specs:
            pytest.skip(f"{name} collector not present")
        out.update(samples(specs[name].factory(context).collect()))
    return out


def by_label(values: Samples, name: str, label: str, **fixed: str) -> dict[str, float]:
    out = {}
    for (sample, labels), value in values.items():
        d = dict(labels)
        if sample == name and all(d.get(k) == v for k, v in fixed.items()):
            out[d[label]] = value
    return out


def one(values: Samples, name: str) -> float:
    return values[(name, ())]


@pytest.mark.parametrize("profile", [pb.DARWIN, pb.FREEBSD])
def test_cpu_matches_proc(profile: pb.Profile) -> None:
    ours = samples(pb.CPUCollector(profile).collect())
    proc = linux("cpu")
    for field, mode in profile.cpu_modes:
        if mode == "interrupt":
            mode_proc = "irq"
        else:
            mode_proc = mode
        got = by_label(ours, "node_cpu_seconds_total", "cpu", mode=mode)
        want = by_label(proc, "node_cpu_seconds_total", "cpu", mode=mode_proc)
        assert set(got) == set(want) and got, (field, mode)
        for cpu, value in want.items():
            assert got[cpu] == pytest.approx(value, abs=2.0), (cpu, mode)


def test_memory_matches_meminfo() -> None:
    proc = linux("meminfo")
    darwin = samples(pb.MemoryCollector(pb.DARWIN).collect())
    assert one(darwin, "node_memory_total_bytes") == one(proc, "node_memory_MemTotal_bytes")
    assert one(darwin, "node_memory_swap_total_bytes") == one(proc, "node_memory_SwapTotal_bytes")
    assert one(darwin, "node_memory_free_bytes") == pytest.approx(one(proc, "node_memory_MemFree_bytes"), rel=0.05)
    assert one(darwin, "node_memory_active_bytes") == pytest.approx(one(proc, "node_memory_Active_bytes"), rel=0.05)
    freebsd = samples(pb.MemoryCollector(pb.FREEBSD).collect())
    assert one(freebsd, "node_memory_size_bytes") == one(proc, "node_memory_MemTotal_bytes")
    assert one(freebsd, "node_memory_buffer_bytes") == pytest.approx(one(proc, "node_memory_Buffers_bytes"), rel=0.05)
    assert "node_memory_swap_in_bytes_total" in {k[0] for k in freebsd}


def test_memory_types_and_missing_fields() -> None:
    virtual = SimpleNamespace(total=100, free=10, active=20, inactive=30, wired=None)
    swap = SimpleNamespace(total=50, used=5, sin=7, sout=8)
    got = list(pb.MemoryCollector(pb.DARWIN, virtual=lambda: virtual, swap=lambda: swap).collect())
    kinds = {m.name: m.type for m in got}
    assert kinds["node_memory_swapped_in_bytes_total"] == "counter"
    assert kinds["node_memory_total_bytes"] == "gauge"
    assert "node_memory_wired_bytes" not in kinds  # psutil gave nothing: not invented
    assert samples(got)[("node_memory_swapped_out_bytes_total", ())] == 8


def test_loadavg_boot_time_uname_match_proc() -> None:
    proc = linux("loadavg", "stat", "uname")
    load = samples(pb.LoadavgCollector().collect())
    for name in ("node_load1", "node_load5", "node_load15"):
        assert one(load, name) == pytest.approx(one(proc, name), abs=1.0)
    boot = samples(pb.BootTimeCollector().collect())
    assert one(boot, "node_boot_time_seconds") == pytest.approx(one(proc, "node_boot_time_seconds"), abs=1.0)
    uname = {dict(k[1])["sysname"]: dict(k[1]) for k in samples(pb.UnameCollector().collect())}
    proc_uname = next(dict(k[1]) for k in proc if k[0] == "node_uname_info")
    mine = uname[proc_uname["sysname"]]
    assert (mine["release"], mine["machine"]) == (proc_uname["release"], proc_uname["machine"])
    assert mine["nodename"] == proc_uname["nodename"].split(".")[0]


@pytest.mark.parametrize(
    ("nodename", "expect"),
    [("host", ("host", "(none)")), ("host.example.org", ("host", "example.org")), ("", ("", "(none)"))],
)
def test_split_nodename(nodename: str, expect: tuple[str, str]) -> None:
    assert pb.split_nodename(nodename) == expect


def test_filesystem_root_matches_proc() -> None:
    proc = linux("filesystem")
    want = by_label(proc, "node_filesystem_size_bytes", "mountpoint")
    if "/" not in want:
        pytest.skip("the filesystem collector does not report / here")
    # Linux's own excludes for the comparison (the BSD ones would keep /proc, /sys...).
    profile = pb.Profile("linux-test", (), (), "^/(dev|proc|sys|run)($|/)", "^(proc|sysfs|cgroup2?)$")
    got = by_label(samples(pb.FilesystemCollector(profile).collect()), "node_filesystem_size_bytes", "mountpoint")
    assert got["/"] == want["/"]


def test_filesystem_excludes_and_errors() -> None:
    parts = [SimpleNamespace(device="/dev/a", mountpoint="/", fstype="apfs", opts="rw"),
             SimpleNamespace(device="devfs", mountpoint="/dev", fstype="devfs", opts="rw"),
             SimpleNamespace(device="/dev/b", mountpoint="/Volumes/x", fstype="hfs", opts="ro,nosuid"),
             SimpleNamespace(device="/dev/a", mountpoint="/", fstype="apfs", opts="rw")]

    def statvfs(path: str) -> os.statvfs_result:
        if path != "/":
            raise OSError("hung")
        return os.statvfs_result((4096, 4096, 100, 50, 40, 1000, 900, 900, 0, 255))

    got = samples(pb.FilesystemCollector(pb.DARWIN, partitions=lambda: parts, statvfs=statvfs).collect())
    assert by_label(got, "node_filesystem_size_bytes", "mountpoint") == {"/": 409600.0}
    assert by_label(got, "node_filesystem_avail_bytes", "mountpoint") == {"/": 163840.0}
    assert by_label(got, "node_filesystem_device_error", "mountpoint") == {"/": 0.0, "/Volumes/x": 1.0}
    assert by_label(got, "node_filesystem_readonly", "mountpoint") == {"/": 0.0, "/Volumes/x": 1.0}


def test_diskstats_and_netdev_match_proc() -> None:
    proc = linux("diskstats", "netdev")
    disks = samples(pb.DiskstatsCollector().collect())
    want = by_label(proc, "node_disk_read_bytes_total", "device")
    got = by_label(disks, "node_disk_read_bytes_total", "device")
    common = set(want) & set(got)
    assert common, (sorted(want), sorted(got))
    for device in common:
        assert got[device] == pytest.approx(want[device], rel=0.05, abs=1e6)
    net = samples(pb.NetdevCollector().collect())
    want = by_label(proc, "node_network_receive_bytes_total", "device")
    got = by_label(net, "node_network_receive_bytes_total", "device")
    assert set(want) <= set(got)
    for device in want:
        assert got[device] == pytest.approx(want[device], rel=0.05, abs=1e6)


def test_diskstats_without_disks() -> None:
    with pytest.raises(NoDataError):
        list(pb.DiskstatsCollector(counters=lambda: {}).collect())


@pytest.mark.parametrize(
    ("platform", "expect"), [("linux", None), ("darwin", pb.DARWIN), ("freebsd14", pb.FREEBSD)]
)
def test_platform_selection(platform: str, expect: pb.Profile | None) -> None:
    assert pb.current_profile(platform) is expect
    marker: list[Metric] = []

    class Linux:
        def __init__(self, context: NodeContext) -> None:
            pass

        def collect(self) -> list[Metric]:
            return marker

    factory: Callable[[NodeContext], Collector] = pb.platform_factory("loadavg", Linux, platform)
    built = factory(NodeContext())
    assert isinstance(built, Linux) == (expect is None)


PSUTIL_CLASSES = {
    "cpu": pb.CPUCollector, "meminfo": pb.MemoryCollector, "loadavg": pb.LoadavgCollector,
    "uname": pb.UnameCollector, "filesystem": pb.FilesystemCollector, "diskstats": pb.DiskstatsCollector,
    "netdev": pb.NetdevCollector,
}


def _context(*flags: str) -> NodeContext:
    from exporters.node.main import build_parser, collector_specs

    return NodeContext(args=build_parser(collector_specs()).parse_args(list(flags)))


@pytest.mark.parametrize("name", sorted(PSUTIL_CLASSES))
def test_spec_factory_switches_to_psutil_off_linux(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from exporters.node.main import collector_specs

    spec = next(s for s in collector_specs() if s.name == name)
    context = _context()
    assert not isinstance(spec.factory(context), PSUTIL_CLASSES[name])  # this host is Linux
    monkeypatch.setattr(pb, "current_profile", lambda platform=None: pb.DARWIN)
    assert isinstance(spec.factory(context), PSUTIL_CLASSES[name])


def _families(metrics: list[Metric]) -> dict[str, tuple[str, frozenset[str]]]:
    """family name -> (type, label names of its samples)."""
    out = {}
    for metric in metrics:
        names = frozenset(label for s in metric.samples for label in s.labels)
        out[metric.name] = (metric.type, names)
    return out


@pytest.mark.parametrize("name", sorted(PSUTIL_CLASSES))
def test_shared_families_have_the_proc_type_and_labels(name: str) -> None:
    from exporters.node.main import collector_specs

    spec = next(s for s in collector_specs() if s.name == name)
    context = _context()
    try:
        proc = _families(list(spec.factory(context).collect()))
    except NoDataError:
        pytest.skip(f"{name}: no data on this host")
    for profile in (pb.DARWIN, pb.FREEBSD):
        mine = _families(list(pb.collector_for(name, profile, context).collect()))
        shared = set(mine) & set(proc)
        for family in shared:
            assert mine[family][0] == proc[family][0], (profile.name, family)
            if mine[family][1] and proc[family][1]:
                assert mine[family][1] == proc[family][1], (profile.name, family)
        if name not in ("meminfo",):  # node_memory_* names differ per OS by design
            assert shared, (name, profile.name, sorted(mine))


def test_filesystem_matches_proc_on_every_mount() -> None:
    from exporters.node.collectors import filesystem

    context = _context()
    proc = linux("filesystem")
    # the Linux defaults of the flags, so both sides keep the same mounts
    mine = samples(pb.FilesystemCollector(pb.DARWIN, excludes=filesystem.exclude_patterns(context)).collect())
    answered = {labels for (name, labels), v in proc.items() if name == "node_filesystem_device_error" and v == 0}
    assert answered, "no filesystem answered statfs here"
    for metric in ("node_filesystem_size_bytes", "node_filesystem_files"):
        want = {labels: v for (name, labels), v in proc.items() if name == metric and labels in answered}
        got = {labels: v for (name, labels), v in mine.items() if name == metric}
        common = set(want) & set(got)
        assert len(common) >= max(1, len(want) // 2), (sorted(want), sorted(got))
        for labels in common:
            assert got[labels] == want[labels], (metric, labels)


def test_psutil_collectors_honour_the_collector_flags() -> None:
    disks = sorted(psutil.disk_io_counters(perdisk=True) or {})
    nics = sorted(psutil.net_io_counters(pernic=True))
    assert nics
    net = samples(pb.collector_for("netdev", pb.DARWIN, _context(f"--collector.netdev.device-include=^{nics[0]}$"))
                  .collect())
    assert {dict(labels)["device"] for _, labels in net} == {nics[0]}
    fs = samples(pb.collector_for("filesystem", pb.DARWIN,
                                  _context("--collector.filesystem.mount-points-exclude=.")).collect())
    assert fs == {}
    if len(disks) > 1:  # excluding the only disk would leave no data
        first = disks[0]
        got = samples(pb.collector_for(
            "diskstats", pb.DARWIN, _context("--collector.diskstats.device-exclude=^" + first + "$")).collect())
        assert first not in {dict(labels)["device"] for _, labels in got}
    with pytest.raises(ConfigError, match="mutually exclusive"):
        pb.collector_for("netdev", pb.DARWIN, _context("--collector.netdev.device-include=a",
                                                       "--collector.netdev.device-exclude=b"))
