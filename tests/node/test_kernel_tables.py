"""cgroups, softirqs, lnstat, sysctl and cpu_vulnerabilities: parser tables with malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import cgroups, cpu_vulnerabilities, lnstat, softirqs, sysctl
from tests.node.collected import collect_partial, samples, types, value
from tests.node.fake_host import context, make_context, write


def test_parse_cgroups() -> None:
    text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t1\t1\nmemory\t0\t+87\t0\textra\n"
    assert cgroups.parse_cgroups(text) == [cgroups.CgroupSummary("cpuset", 3, 1, 1),
                                           cgroups.CgroupSummary("memory", 0, 87, 0)]


@pytest.mark.parametrize("text", ["cpuset 3 1\n", "cpuset 3 x 1\n", "cpuset 3 1 1.0\n", "\n"])
def test_parse_cgroups_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        cgroups.parse_cgroups(text)


SOFTIRQS = "        CPU0   CPU1\n   HI:   1   2\n TIMER: 3 4\nNEW_TYPE: 9 9\n   RCU:\n"


def test_parse_softirqs() -> None:
    assert softirqs.parse_softirqs(SOFTIRQS) == {"HI": [1, 2], "TIMER": [3, 4]}
    with pytest.raises(ValueError):
        softirqs.parse_softirqs("")
    with pytest.raises(ValueError):
        softirqs.parse_softirqs("CPU0\nHI: -1\n")
    assert softirqs.parse_softirqs("HI: 1\n") == {}  # the first line is the header, whatever it says


def test_softirqs_collect(tmp_path: Path) -> None:
    write(tmp_path, "proc/softirqs", SOFTIRQS)
    metrics = list(softirqs.SoftirqsCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    assert value(got, "node_softirqs_functions_total", cpu="1", type="TIMER") == 4
    assert len(got) == 4 and types(metrics) == {"node_softirqs_functions": "counter"}


def test_parse_net_stat() -> None:
    text = "entries  allocs\n0000000a 00000001\n0000000b 00000002\n"
    assert lnstat.parse_net_stat(text) == {"entries": [10, 11], "allocs": [1, 2]}
    assert lnstat.parse_net_stat("") == {}
    assert lnstat.parse_net_stat("a b\n1\n") == {"a": [1]}  # a short line fills the first columns
    for bad in ("a\n1 2\n", "a\nzz\n", "a\n10000000000000000\n"):
        with pytest.raises(ValueError):
            lnstat.parse_net_stat(bad)


def test_lnstat_collect_merges_files(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/stat/arp_cache", "entries bad-name\n1 2\n3 4\n")
    write(tmp_path, "proc/net/stat/rt_cache", "entries\n5\n")
    got = samples(lnstat.LnstatCollector(make_context(tmp_path)).collect())
    assert value(got, "node_lnstat_entries_total", subsystem="arp_cache", cpu="1") == 3
    assert value(got, "node_lnstat_entries_total", subsystem="rt_cache", cpu="0") == 5
    assert len(got) == 3  # "bad-name" cannot be a metric name


@pytest.mark.parametrize(
    ("text", "numeric", "expect"),
    [
        ("60\n", True, [60]),
        ("0x10 010 0b11 -5\n", True, [16, 8, 3, -5]),
        ("reno cubic\n", False, ["reno", "cubic"]),
        ("", True, []),
    ],
)
def test_parse_sysctl_values(text: str, numeric: bool, expect: list[object]) -> None:
    assert sysctl.parse_sysctl_values(text, numeric) == expect


@pytest.mark.parametrize("text", ["1.5\n", "abc\n", "99999999999999999999\n"])
def test_parse_sysctl_values_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        sysctl.parse_sysctl_values(text, True)


def test_parse_include() -> None:
    assert sysctl.parse_include("net.ipv4.tcp_rmem:min,default,max", True) == sysctl.Sysctl(
        "net.ipv4.tcp_rmem", True, ("min", "default", "max"))
    assert sysctl.parse_include("fs.file-nr", True).metric_name == "node_sysctl_fs_file_nr"
    assert sysctl.parse_include("a:", True).keys == ("",)


@pytest.mark.parametrize(
    ("include", "values", "error"),
    [
        ("a", [], "has no values"),
        ("a:x", [1], "only one value"),
        ("a:x,y", [1, 2, 3], "3 keys but only 2"),
        ("a:x-y,z", [1, 2], "not a valid metric name"),
    ],
)
def test_sysctl_metrics_errors(include: str, values: list[str | int], error: str) -> None:
    info = sysctl.GaugeFamily(*sysctl.INFO, labels=["name", "value", "index"])
    with pytest.raises(ValueError, match=error):
        sysctl.sysctl_metrics(sysctl.parse_include(include, True), values, info)
    with pytest.raises(ValueError, match="not supported"):
        sysctl.sysctl_metrics(sysctl.parse_include("s:x,y", False), ["a", "b"], info)


def test_sysctl_collect_flags(tmp_path: Path) -> None:
    write(tmp_path, "proc/sys/vm/swappiness", "60\n")
    write(tmp_path, "proc/sys/fs/file-nr", "1088\t0\t2466183\n")
    write(tmp_path, "proc/sys/net/ipv4/tcp_allowed_congestion_control", "reno cubic\n")
    write(tmp_path, "proc/sys/kernel/hostname", "box\n")
    collector = sysctl.build(context(
        tmp_path, "--collector.sysctl.include=vm.swappiness", "--collector.sysctl.include=fs.file-nr:a,b,c",
        "--collector.sysctl.include-info=net.ipv4.tcp_allowed_congestion_control",
        "--collector.sysctl.include-info=kernel.hostname"))
    metrics = list(collector.collect())
    got = samples(metrics)
    assert got[("node_sysctl_vm_swappiness", ())] == 60
    assert got[("node_sysctl_fs_file_nr_c", ())] == 2466183
    assert value(got, "node_sysctl_info", name="net.ipv4.tcp_allowed_congestion_control", value="cubic",
                 index="1") == 1
    assert value(got, "node_sysctl_info", name="kernel.hostname", value="box", index="0") == 1
    assert types(metrics)["node_sysctl_vm_swappiness"] == "unknown"
    assert [m.name for m in metrics].count("node_sysctl_info") == 1


def test_sysctl_missing_file_keeps_what_came_before(tmp_path: Path) -> None:
    write(tmp_path, "proc/sys/kernel/hostname", "box\n")
    write(tmp_path, "proc/sys/vm/swappiness", "60\n")
    collector = sysctl.SysctlCollector(make_context(tmp_path), [
        sysctl.parse_include("kernel.hostname", False), sysctl.parse_include("vm.swappiness", True),
        sysctl.parse_include("vm.missing", True), sysctl.parse_include("vm.swappiness", False)])
    partial, err = collect_partial(collector)
    assert isinstance(err, ValueError) and "vm.missing" in str(err)
    assert sorted(m.name for m in partial) == ["node_sysctl_info", "node_sysctl_vm_swappiness"]


def test_sysctl_reads_one_128_byte_block(tmp_path: Path) -> None:
    write(tmp_path, "proc/sys/kernel/long", "x" * 100 + " " + "y" * 100 + "\n")
    collector = sysctl.SysctlCollector(make_context(tmp_path), [sysctl.parse_include("kernel.long", False)])
    got = samples(collector.collect())
    assert {dict(labels)["value"] for _, labels in got} == {"x" * 100, "y" * 27}


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("Not affected\n", "not affected"),
        ("Vulnerable: Clear CPU buffers attempted, no microcode\n", "vulnerable"),
        ("Mitigation: PTI\n", "mitigation"),
        ("mitigation: lower case\n", "mitigation"),
        ("Unknown: Dependent on hypervisor status\n", "unknown"),
        ("Processor vulnerable\n", "unknown"),
        ("", "unknown"),
    ],
)
def test_parse_vulnerability(text: str, state: str) -> None:
    assert cpu_vulnerabilities.parse_vulnerability(text) == state


def test_cpu_vulnerabilities_collect(tmp_path: Path) -> None:
    base = "sys/devices/system/cpu/vulnerabilities"
    write(tmp_path, f"{base}/meltdown", "Mitigation: PTI\n")
    write(tmp_path, f"{base}/huge", "x" * 5000)
    collector = cpu_vulnerabilities.CPUVulnerabilitiesCollector(make_context(tmp_path))
    with pytest.raises(ValueError):
        list(collector.collect())
    (tmp_path / base / "huge").unlink()
    assert samples(collector.collect()) == {
        ("node_cpu_vulnerabilities_info", (("codename", "meltdown"), ("state", "mitigation"))): 1.0}
