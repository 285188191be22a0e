"""Parsers and collectors: cpu, cpufreq, stat (/proc/stat, /proc/cpuinfo, sysfs cpu)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.flags import ConfigError
from exporters.node.collectors import cpu, cpufreq, stat
from exporters.node.collectors._strconv import go_parse_float, parse_cpu_range
from tests.node.collected import collect_partial, samples, types
from tests.node.fake_host import make_context, write

STAT = """cpu  9669 0 2871 81865 948 0 129 5 0 0
cpu0 3921 1 1217 42360 206 0 44 2 7 3
cpu2 5748 0 1654 39504 742 0 84 2 0 0
intr 448574 0 5 0
ctxt 896137
btime 1764250000
processes 9526
procs_running 2
procs_blocked 1
softirq 100 1 2 3 4 5 6 7 8 9 10
"""


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("cpu0 100 200 300 400 500 600 700 800 900 1000", (0, {"user": 1.0, "guest_nice": 10.0})),
        ("cpu 1 2 3 4", (None, {"user": 0.01, "idle": 0.04, "iowait": 0.0, "guest": 0.0})),  # old kernel
        ("cpu12 1 2 3 4 5 6 7 8 9 10 11 12", (12, {"guest_nice": 0.1})),  # future columns ignored
        ("cpu3 1.5e2 0 0 0", (3, {"user": 1.5})),
    ],
)
def test_parse_cpu_line(line: str, expect: tuple[int | None, dict[str, float]]) -> None:
    number, values = stat.parse_cpu_line(line.split())
    assert number == expect[0]
    for mode, value in expect[1].items():
        assert values[mode] == pytest.approx(value)


@pytest.mark.parametrize("line", ["cpu", "cpux 1 2 3", "cpu0 1 x 3", "cpu0 1_0 2 3", "cpu-a 1"])
def test_parse_cpu_line_malformed(line: str) -> None:
    with pytest.raises(ValueError):
        stat.parse_cpu_line(line.split())


def test_parse_stat() -> None:
    parsed = stat.parse_stat(STAT)
    assert sorted(parsed.cpus) == [0, 2]  # a gap: cpu1 offline
    assert parsed.cpus[0]["guest"] == pytest.approx(0.07)
    assert (parsed.intr_total, parsed.context_switches, parsed.boot_time) == (448574, 896137, 1764250000)
    assert (parsed.processes_created, parsed.procs_running, parsed.procs_blocked) == (9526, 2, 1)
    assert parsed.softirq["hi"] == 1 and parsed.softirq["rcu"] == 10


@pytest.mark.parametrize(
    "text",
    ["btime x\n", "intr 1 2 x\n", "intr 1 2 ٣\n", "intr 1 18446744073709551616\n", "ctxt -1\n",
     "softirq 1 2 3\n", "cpu0 a\n", "procs_running 1.5\n"],
)
def test_parse_stat_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        stat.parse_stat(text)


def test_parse_stat_ignores_short_and_unknown_lines() -> None:
    parsed = stat.parse_stat("\nbtime\nunknown 1 2\nbtime 5\n")
    assert parsed.boot_time == 5 and not parsed.cpus


def test_stat_collector(tmp_path: Path) -> None:
    write(tmp_path, "proc/stat", STAT)
    got = list(stat.StatCollector(make_context(tmp_path, collector_stat_softirq=True)).collect())
    values = samples(got)
    assert values[("node_intr_total", ())] == 448574
    assert values[("node_boot_time_seconds", ())] == 1764250000
    assert values[("node_softirqs_total", (("vector", "net_rx"),))] == 4
    assert types(got)["node_boot_time_seconds"] == "gauge"
    assert types(got)["node_forks"] == "counter"
    plain = samples(stat.StatCollector(make_context(tmp_path)).collect())
    assert not any(name == "node_softirqs_total" for name, _ in plain)


CPUINFO = """
processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 85
model name\t: Intel(R) Xeon(R) CPU @ 2.00GHz
stepping\t: 7
microcode\t: 0x1
cpu MHz\t\t: 2000.123
cache size\t: 39424 KB
physical id\t: 0
siblings\t: 2
core id\t\t: 0
cpu cores\t: 1
flags\t\t: fpu vme sse sse2 avx avx2
bugs\t\t: spectre_v1 spectre_v2 mds
power management:

processor\t: 1
vendor_id\t: GenuineIntel
cpu MHz\t\t: 1999.5
physical id\t: 0
core id\t\t: 1
flags\t\t: fpu
"""


def test_parse_cpuinfo() -> None:
    cpus = cpu.parse_cpuinfo(CPUINFO)
    assert [c.processor for c in cpus] == [0, 1]
    first = cpus[0]
    assert (first.vendor_id, first.cpu_family, first.model, first.stepping) == ("GenuineIntel", "6", "85", "7")
    assert first.model_name == "Intel(R) Xeon(R) CPU @ 2.00GHz"
    assert first.cache_size == "39424 KB" and first.mhz == pytest.approx(2000.123)
    assert first.flags == ["fpu", "vme", "sse", "sse2", "avx", "avx2"]
    assert cpus[1].core_id == "1" and cpus[1].model == ""


@pytest.mark.parametrize(
    "text",
    ["", "vendor_id : x\n", "processor : x\n", "processor\t: 0\ncpu MHz\t: fast\n", "processor\t: 0\nsiblings\t: -1\n",
     "processor\t: 0\nprocessor\t: zz\n"],
)
def test_parse_cpuinfo_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        cpu.parse_cpuinfo(text)


@pytest.mark.parametrize(
    ("text", "expect"),
    [("", []), ("\n", []), ("1\n", [1]), ("0-3,8\n", [0, 1, 2, 3, 8]), ("2,4-5", [2, 4, 5])],
)
def test_parse_cpu_range(text: str, expect: list[int]) -> None:
    assert parse_cpu_range(text) == expect


@pytest.mark.parametrize("text", ["a", "1-2-3", "1-x", "0x1"])
def test_parse_cpu_range_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpu_range(text)


@pytest.mark.parametrize(
    ("text", "expect"), [("1", 1.0), ("-2.5", -2.5), ("1e3", 1000.0), ("0x1p4", 16.0), ("-0x1.8p1", -3.0),
                          ("+Inf", float("inf")), ("infinity", float("inf"))]
)
def test_go_float(text: str, expect: float) -> None:
    assert go_parse_float(text) == expect


@pytest.mark.parametrize("text", ["", " 1", "1 ", "1_000", "x", "1,5", "0x10", "1e999", "--1", "0x"])
def test_go_float_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        go_parse_float(text)


def _cpu_tree(tmp_path: Path) -> None:
    write(tmp_path, "proc/stat", STAT)
    write(tmp_path, "proc/cpuinfo", CPUINFO)
    base = "sys/devices/system/cpu"
    write(tmp_path, f"{base}/isolated", "2\n")
    for n, (package, core, throttles) in enumerate([(0, 0, 3), (0, 0, 9), (1, 4, 5)]):
        write(tmp_path, f"{base}/cpu{n}/topology/physical_package_id", f"{package}\n")
        write(tmp_path, f"{base}/cpu{n}/topology/core_id", f"{core}\n")
        write(tmp_path, f"{base}/cpu{n}/thermal_throttle/core_throttle_count", f"{throttles}\n")
        write(tmp_path, f"{base}/cpu{n}/thermal_throttle/package_throttle_count", f"{throttles * 10}\n")
    write(tmp_path, f"{base}/cpu3/topology/core_id", "0\n")  # no package id: skipped


def test_cpu_collector(tmp_path: Path) -> None:
    _cpu_tree(tmp_path)
    context = make_context(tmp_path, collector_cpu_info=True, collector_cpu_info_flags_include="^avx",
                           collector_enable_cpufreq=False)
    got = list(cpu.CPUCollector(context).collect())
    values = samples(got)
    assert values[("node_cpu_seconds_total", (("cpu", "0"), ("mode", "user")))] == pytest.approx(39.21)
    assert values[("node_cpu_guest_seconds_total", (("cpu", "0"), ("mode", "nice")))] == pytest.approx(0.03)
    assert not any(dict(labels).get("cpu") == "1" for name, labels in values if name == "node_cpu_seconds_total")
    assert ("node_cpu_seconds_total", (("cpu", "0"), ("mode", "guest"))) not in values
    assert values[("node_cpu_isolated", (("cpu", "2"),))] == 1
    # The first CPU of each (package, core) and of each package is read.
    assert values[("node_cpu_core_throttles_total", (("core", "0"), ("package", "0")))] == 3
    assert values[("node_cpu_package_throttles_total", (("package", "1"),))] == 50
    assert sorted(k[1][0][1] for k in values if k[0] == "node_cpu_flag_info") == ["avx", "avx2"]
    assert not any(k[0] == "node_cpu_bug_info" for k in values)
    assert values[("node_cpu_frequency_hertz", (("core", "1"), ("cpu", "1"), ("package", "0")))] == 1999.5e6
    info = [k for k in values if k[0] == "node_cpu_info"]
    assert len(info) == 2 and dict(info[0][1])["cachesize"] in ("39424 KB", "")


def test_cpu_collector_options(tmp_path: Path) -> None:
    _cpu_tree(tmp_path)
    context = make_context(tmp_path, collector_cpu_guest=False, collector_cpu_info_bugs_include="mds")
    values = samples(cpu.CPUCollector(context).collect())
    assert not any(k[0] == "node_cpu_guest_seconds_total" for k in values)
    assert [k[1] for k in values if k[0] == "node_cpu_bug_info"] == [(("bug", "mds"),)]  # implies info
    assert not any(k[0] == "node_cpu_frequency_hertz" for k in values)  # cpufreq on by default


def test_cpu_bad_regex_and_isolated(tmp_path: Path) -> None:
    _cpu_tree(tmp_path)
    with pytest.raises(ConfigError):
        cpu.CPUCollector(make_context(tmp_path, collector_cpu_info_flags_include="("))
    write(tmp_path, "sys/devices/system/cpu/isolated", "x-y\n")
    with pytest.raises(ConfigError):
        cpu.CPUCollector(make_context(tmp_path))


def test_cpu_counters_never_go_backwards() -> None:
    cache = cpu.CPUStatCache()
    base = dict.fromkeys(stat.CPU_MODES, 10.0)
    cache.update({0: dict(base), 1: dict(base)})
    lower = dict(base, user=9.0, idle=9.5)
    got = cache.update({0: lower, 1: dict(base, idle=5.0, user=1.0)})
    assert got[0]["user"] == 10.0 and got[0]["idle"] == 10.0  # small drop: keep the old value
    assert got[1]["idle"] == 5.0 and got[1]["user"] == 1.0  # idle fell >= 3 s: hot-plug, reset
    assert list(cache.update({1: dict(base)})) == [1]  # cpu0 went offline


def test_cpu_stat_failure_keeps_info(tmp_path: Path) -> None:
    _cpu_tree(tmp_path)
    collector = cpu.CPUCollector(make_context(tmp_path, collector_cpu_info=True))
    write(tmp_path, "proc/stat", "cpu0 x\n")
    got, err = collect_partial(collector)
    assert isinstance(err, ValueError)
    assert [m.name for m in got][:1] == ["node_cpu_info"]


def _cpufreq_tree(tmp_path: Path, offline: str = "\n") -> None:
    base = "sys/devices/system/cpu"
    write(tmp_path, f"{base}/offline", offline)
    for n in (0, 1):
        d = f"{base}/cpu{n}/cpufreq"
        write(tmp_path, f"{d}/scaling_cur_freq", f"{1000000 + n}\n")
        write(tmp_path, f"{d}/cpuinfo_min_freq", "400000\n")
        for name, value in (("scaling_available_governors", "performance powersave"),
                            ("scaling_governor", "powersave"), ("scaling_driver", "intel_pstate"),
                            ("related_cpus", str(n)), ("scaling_setspeed", "<unsupported>")):
            write(tmp_path, f"{d}/{name}", value + "\n")
    write(tmp_path, f"{base}/cpu2/topology/core_id", "2\n")  # no cpufreq directory


def test_cpufreq_collector(tmp_path: Path) -> None:
    _cpufreq_tree(tmp_path)
    values = samples(cpufreq.CPUFreqCollector(make_context(tmp_path)).collect())
    assert values[("node_cpu_scaling_frequency_hertz", (("cpu", "1"),))] == 1000001000.0
    assert values[("node_cpu_frequency_min_hertz", (("cpu", "0"),))] == 400000000.0
    assert not any(k[0] == "node_cpu_frequency_hertz" for k in values)
    assert values[("node_cpu_scaling_governor", (("cpu", "0"), ("governor", "powersave")))] == 1
    assert values[("node_cpu_scaling_governor", (("cpu", "0"), ("governor", "performance")))] == 0
    assert not any(dict(k[1]).get("cpu") == "2" for k in values)


def test_cpufreq_offline_and_missing_files(tmp_path: Path) -> None:
    _cpufreq_tree(tmp_path, offline="1\n")
    values = samples(cpufreq.CPUFreqCollector(make_context(tmp_path)).collect())
    assert {dict(k[1])["cpu"] for k in values} == {"0"}
    (tmp_path / "sys/devices/system/cpu/cpu0/cpufreq/scaling_driver").unlink()
    with pytest.raises(FileNotFoundError):
        list(cpufreq.CPUFreqCollector(make_context(tmp_path)).collect())
    write(tmp_path, "sys/devices/system/cpu/cpu0/cpufreq/scaling_driver", "x\n")
    write(tmp_path, "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "fast\n")
    with pytest.raises(ValueError):
        list(cpufreq.CPUFreqCollector(make_context(tmp_path)).collect())


@pytest.mark.parametrize(
    ("available", "current", "expect"),
    [("a b", "b", [("a", 0.0), ("b", 1.0)]), ("a  b", "a", [("a", 1.0), ("", 0.0), ("b", 0.0)])],
)
def test_governors(available: str, current: str, expect: list[tuple[str, float]]) -> None:
    assert cpufreq.governors(available, current) == expect


# ---------------------------------------------------------------- huge or hostile /proc/stat


def _cpu_lines(count: int) -> str:
    return "".join(f"cpu{i} 1 2 3 4 5 6 7 8 0 0\n" for i in range(count))


class Checks:
    """A deadline check that counts its calls and expires after ``allow`` of them."""

    def __init__(self, allow: int = 10**9) -> None:
        self.calls = 0
        self.allow = allow

    def __call__(self) -> None:
        self.calls += 1
        if self.calls > self.allow:
            raise TimeoutError("scrape deadline passed")


def test_parse_stat_stops_past_max_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stat, "MAX_CPUS", 5000)
    checks = Checks()
    text = "cpu 1 2 3 4 5 6 7 8 0 0\n" + _cpu_lines(20000)  # more CPUs than any kernel has
    with pytest.raises(ValueError, match="more than 5000 CPUs"):
        stat.parse_stat(text, checks)
    # it stopped at the limit: the lines after it were never looked at
    assert checks.calls == 5002 // stat.CHECK_EVERY
    assert len(stat.parse_stat(_cpu_lines(5000)).cpus) == 5000


def test_parse_stat_checks_the_deadline_in_its_loop() -> None:
    text = "ctxt 1\n" * (stat.CHECK_EVERY * 5)
    with pytest.raises(TimeoutError):
        stat.parse_stat(text, Checks(allow=2))
    checks = Checks()
    stat.parse_stat(text, checks)
    assert checks.calls == 5


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("intr 5 1 2 3\n", True),
        ("intr 5 " + " ".join(["18446744073709551615"] * 3) + "\n", True),  # 20 digits, still uint64
        ("intr 5 18446744073709551616\n", False),
        ("intr 5 1 x 3\n", False),
        ("intr 5 1 -2\n", False),
        ("intr 5\n", True),
    ],
)
def test_parse_stat_intr_counts(line: str, ok: bool) -> None:
    if ok:
        assert stat.parse_stat(line).intr_total == 5
    else:
        with pytest.raises(ValueError):
            stat.parse_stat(line)


def test_stat_file_size_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stat, "MAX_STAT_BYTES", 1000)
    write(tmp_path, "proc/stat", "ctxt 1\n" * 200)
    context = make_context(tmp_path)
    with pytest.raises(ValueError, match="more than 1000 bytes"):
        list(stat.StatCollector(context).collect())
    with pytest.raises(ValueError, match="more than 1000 bytes"):
        list(cpu.CPUCollector(context).collect())
