"""Parsers and collectors: pressure, schedstat, conntrack, processes, interrupts."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import conntrack, interrupts, pressure, processes, schedstat
from tests.node.collected import collect_partial, samples, types
from tests.node.fake_host import make_context, write

PSI_FULL = "some avg10=0.10 avg60=0.20 avg300=0.30 total=1500000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (PSI_FULL, {"some": 1500000, "full": 7}),
        ("some avg10=1.00 avg60=2.00 avg300=3.00 total=42\n", {"some": 42}),  # cpu before Linux 5.13
        ("", {}),
        ("other line\nsome avg10=0 avg60=0 avg300=0 total=1\n", {"some": 1}),
    ],
)
def test_parse_pressure(text: str, expect: dict[str, int]) -> None:
    assert {k: v.total for k, v in pressure.parse_pressure(text).items()} == expect


@pytest.mark.parametrize(
    "text", ["some avg10=x avg60=0 avg300=0 total=1\n", "full total=1\n", "some avg10=0 avg60=0 avg300=0 total=-1\n"]
)
def test_parse_pressure_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        pressure.parse_pressure(text)


def test_pressure_collector(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    with pytest.raises(NoDataError):
        list(pressure.PressureCollector(context).collect())
    for resource in pressure.RESOURCES:
        write(tmp_path, f"proc/pressure/{resource}", PSI_FULL)
    got = list(pressure.PressureCollector(context).collect())
    values = samples(got)
    assert len(values) == 5
    assert values[("node_pressure_cpu_waiting_seconds_total", ())] == 1.5
    assert values[("node_pressure_memory_stalled_seconds_total", ())] == pytest.approx(7e-6)
    assert set(types(got).values()) == {"counter"}
    write(tmp_path, "proc/pressure/io", "some avg10=0 avg60=0 avg300=0 total=1\n")  # no full line
    got, err = collect_partial(pressure.PressureCollector(context))
    assert isinstance(err, ValueError) and len(got) == 2  # cpu and io "some" were sent


SCHEDSTAT = """version 15
timestamp 4294
cpu0 0 0 0 0 0 0 2045936778163039 343796328169361 4767485306
domain0 3 212499247 210112015 1861015 1860405436 536440 369895 32599 210079416
cpu1 0 0 0 0 0 0 99999999999999999999 1 1
cpu2 0 0 0 0 0 0 1000000000 2000000000 3
"""


def test_parse_schedstat() -> None:
    cpus = schedstat.parse_schedstat(SCHEDSTAT)
    assert [c.cpu for c in cpus] == ["0", "2"]  # cpu1 overflows uint64: skipped
    assert cpus[1] == schedstat.SchedstatCPU("2", 1000000000, 2000000000, 3)
    assert schedstat.parse_schedstat("cpu0 1 2 3\n") == []


def test_schedstat_collector(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    with pytest.raises(NoDataError):
        list(schedstat.SchedstatCollector(context).collect())
    write(tmp_path, "proc/schedstat", SCHEDSTAT)
    values = samples(schedstat.SchedstatCollector(context).collect())
    assert values[("node_schedstat_running_seconds_total", (("cpu", "2"),))] == 1.0
    assert values[("node_schedstat_waiting_seconds_total", (("cpu", "2"),))] == 2.0
    assert values[("node_schedstat_timeslices_total", (("cpu", "0"),))] == 4767485306


HEADER = "entries searched found new invalid ignore delete delete_list insert insert_failed drop early_drop " \
         "icmp_error expect_new expect_create expect_delete search_restart\n"
ROW17 = "00000010 00000000 00000001 00000000 0000000a 00000002 00000000 00000000 00000003 00000000 00000004 " \
        "00000005 00000000 00000000 00000000 00000000 0000000f\n"
ROW16 = " ".join(ROW17.split()[:16]) + "\n"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (HEADER + ROW17 + ROW17, {"found": 2, "invalid": 20, "ignore": 4, "insert": 6, "drop": 8, "early_drop": 10,
                                  "search_restart": 30, "insert_failed": 0}),
        (HEADER + ROW16, {"found": 1, "search_restart": 0}),  # before Linux 4.10
        (HEADER, {"found": 0}),
    ],
)
def test_parse_conntrack_stat(text: str, expect: dict[str, int]) -> None:
    got = conntrack.parse_conntrack_stat(text)
    for key, value in expect.items():
        assert got[key] == value


@pytest.mark.parametrize("text", [HEADER + "1 2 3\n", HEADER + ROW17.replace("0000000a", "zz"), HEADER + "\n"])
def test_parse_conntrack_stat_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        conntrack.parse_conntrack_stat(text)


def test_conntrack_collector(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    got, err = collect_partial(conntrack.ConntrackCollector(context))
    assert isinstance(err, NoDataError) and got == []
    write(tmp_path, "proc/sys/net/netfilter/nf_conntrack_count", "12\n")
    write(tmp_path, "proc/sys/net/netfilter/nf_conntrack_max", "262144\n")
    got, err = collect_partial(conntrack.ConntrackCollector(context))
    assert isinstance(err, NoDataError) and len(got) == 2  # stat file absent: no data, first two kept
    write(tmp_path, "proc/net/stat/nf_conntrack", HEADER + ROW17)
    values = samples(conntrack.ConntrackCollector(context).collect())
    assert values[("node_nf_conntrack_entries", ())] == 12
    assert values[("node_nf_conntrack_entries_limit", ())] == 262144
    assert values[("node_nf_conntrack_stat_search_restart", ())] == 15
    assert len(values) == 10


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 11\n", ("systemd", "S", 1)),
        ("100 (evil) (name) R 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 50\n", ("evil) (name", "R", 3)),
        ("7 (with space) D 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 12 0 50\n", ("with space", "D", 12)),
        ("8 () Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 50\n", ("", "Z", 1)),
    ],
)
def test_parse_proc_stat(text: str, expect: tuple[str, str, int]) -> None:
    got = processes.parse_proc_stat(text)
    assert (got.comm, got.state, got.num_threads) == expect


@pytest.mark.parametrize(
    "text", ["", "1 systemd S 0\n", "1 (x) S 0 1\n", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 x\n"]
)
def test_parse_proc_stat_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        processes.parse_proc_stat(text)


def _proc(tmp_path: Path, pid: int, comm: str, state: str, threads: dict[int, str]) -> None:
    def line(i: int, s: str) -> str:
        return f"{i} ({comm}) {s} 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 {1 + len(threads)} 0 5\n"

    write(tmp_path, f"proc/{pid}/stat", line(pid, state))
    write(tmp_path, f"proc/{pid}/task/{pid}/stat", line(pid, "X"))  # the leader's own task is not re-read
    for tid, tstate in threads.items():
        write(tmp_path, f"proc/{pid}/task/{tid}/stat", line(tid, tstate))


def test_processes_collector(tmp_path: Path) -> None:
    _proc(tmp_path, 1, "init", "S", {})
    _proc(tmp_path, 10, "a) (b", "R", {11: "S", 12: "D"})
    write(tmp_path, "proc/20/stat", "20 (notask) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5\n")  # no task dir
    (tmp_path / "proc/30").mkdir()  # exited between listing and reading
    (tmp_path / "proc/self").mkdir()
    write(tmp_path, "proc/sys/kernel/threads-max", "1000\n")
    write(tmp_path, "proc/sys/kernel/pid_max", "32768\n")
    values = samples(processes.ProcessesCollector(make_context(tmp_path)).collect())
    assert values[("node_processes_pids", ())] == 3
    assert values[("node_processes_threads", ())] == 1 + 3 + 1
    assert values[("node_processes_max_threads", ())] == 1000
    assert values[("node_processes_max_processes", ())] == 32768
    states = {dict(k[1])["state"]: v for k, v in values.items() if k[0] == "node_processes_state"}
    assert states == {"S": 1, "R": 1, "Z": 1}
    threads = {dict(k[1])["thread_state"]: v for k, v in values.items() if k[0] == "node_processes_threads_state"}
    assert threads == {"S": 2, "R": 1, "D": 1}


def test_processes_collector_missing_limits(tmp_path: Path) -> None:
    _proc(tmp_path, 1, "init", "S", {})
    got, err = collect_partial(processes.ProcessesCollector(make_context(tmp_path)))
    assert isinstance(err, FileNotFoundError)
    assert [m.name for m in got] == ["node_processes_threads"]


INTERRUPTS = """           CPU0       CPU1
  0:         44          0   IO-APIC   2-edge      timer
 24:          1          0  IO-APIC   5-edge      ACPI:Ged
NMI:          0          3   Non-maskable interrupts
LOC:     114714     104222   Local timer interrupts
ERR:          0
MIS:          0
IPI0:12 34 Rescheduling interrupts
"""


def test_parse_interrupts() -> None:
    got = interrupts.parse_interrupts(INTERRUPTS)
    assert set(got) == {"0", "24", "NMI", "LOC", "IPI0"}
    assert got["24"] == interrupts.Interrupt("IO-APIC", "5-edge ACPI:Ged", ["1", "0"])
    assert got["NMI"] == interrupts.Interrupt("Non-maskable interrupts", "", ["0", "3"])
    assert got["IPI0"].values == ["12", "34"]  # aarch64: no blank after the colon


def test_parse_interrupts_empty() -> None:
    with pytest.raises(ValueError):
        interrupts.parse_interrupts("")


def test_interrupts_collector(tmp_path: Path) -> None:
    write(tmp_path, "proc/interrupts", INTERRUPTS)
    got = list(interrupts.InterruptsCollector(make_context(tmp_path)).collect())
    values = samples(got)
    key = (("cpu", "1"), ("devices", ""), ("info", "Local timer interrupts"), ("type", "LOC"))
    assert values[("node_interrupts_total", key)] == 104222
    assert len(values) == 10
    write(tmp_path, "proc/interrupts", "  CPU0\n 1: x IO-APIC 1-edge i8042\n")
    with pytest.raises(ValueError):
        list(interrupts.InterruptsCollector(make_context(tmp_path)).collect())
