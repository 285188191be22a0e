"""perf: flag parsing, the perf_event_attr encoding, reads, and the collector on the real kernel.

On this kernel (a VM without a PMU) software counters open and hardware/cache ones are refused
with ENOENT; without CAP_PERFMON every open is refused. Both paths are exercised: the live
test asserts whichever the kernel does, the refusals are also driven by a fake opener.
"""

from __future__ import annotations

import errno
import logging
import struct
from pathlib import Path

import pytest

from exporters.core.flags import ConfigError
from exporters.core.runner import CollectorRunner
from exporters.node.collectors import perf
from tests.node.collected import samples, types
from tests.node.fake_host import context


@pytest.mark.parametrize(
    ("flag", "cpus"),
    [("0", [0]), ("0-3", [0, 1, 2, 3]), ("0-6:2", [0, 2, 4, 6]), ("1,3-4", [1, 3, 4]), ("+2", [2]), ("3-1", [])],
)
def test_parse_cpus(flag: str, cpus: list[int]) -> None:
    assert perf.parse_cpus(flag) == cpus


@pytest.mark.parametrize("flag", ["", "a", "1-2-3", "0-3:x", "0-3:0", "0-3:-1", "0-100000", "1,", "0x1"])
def test_parse_cpus_malformed(flag: str) -> None:
    with pytest.raises(ConfigError):
        perf.parse_cpus(flag)


def test_parse_tracepoints() -> None:
    assert perf.parse_tracepoints(["sched:sched_switch"]) == [perf.Tracepoint("sched", "sched_switch")]
    assert perf.Tracepoint("sched", "sched_switch").metric == "node_perf_sched_sched_switch"
    for bad in ("sched", "a:b:c", "a-b:c"):
        with pytest.raises(ConfigError):
            perf.parse_tracepoints([bad])


def test_select_events() -> None:
    assert len(perf.select_events(False, False, False, [])) == 9 + 5 + 12
    assert perf.select_events(True, True, True, []) == []
    assert perf.select_events(True, True, False, ["LLReadHit", "Bogus"]) == [perf.CACHE_EVENTS["LLReadHit"]]
    # v1.7.0 ORs the hardware/software lists into the full set: they cannot narrow it
    assert perf.select_events(False, True, True, []) == list(perf.HARDWARE_EVENTS.values())


def test_event_attr_layout() -> None:
    event = perf.CACHE_EVENTS["L1DataWriteHit"]
    attr = perf.event_attr(event.type, event.config, perf.ATTR_DISABLED | perf.ATTR_INHERIT, 3)
    assert len(attr) == perf.PERF_ATTR_SIZE
    kind, size, config, period, sample_type, read_format, flags = struct.unpack_from("=IIQQQQQ", attr)
    assert (kind, size, config, period) == (3, 128, 0 | (1 << 8) | (0 << 16), 0)
    assert (sample_type, read_format, flags) == (1 << 16, 3, 0b11)
    assert attr[48:] == bytes(80)


def test_decode_reads() -> None:
    assert perf.decode_read(struct.pack("=QQQ", 7, 100, 90)) == 7
    assert perf.decode_group_read(struct.pack("=5Q", 2, 100, 90, 5, 6), 2) == [5, 6]
    for call in (lambda: perf.decode_read(b"\0" * 16),
                 lambda: perf.decode_group_read(struct.pack("=4Q", 2, 1, 1, 5), 2),
                 lambda: perf.decode_group_read(struct.pack("=5Q", 3, 1, 1, 5, 6), 2)):
        with pytest.raises(ValueError):
            call()


class FakeKernel:
    """perf_event_open that refuses some event types; reads return a per-fd value."""

    def __init__(self, refuse: dict[int, int]) -> None:
        self.refuse = refuse
        self.opened: list[tuple[int, int, int, int]] = []

    def open(self, attr: bytes, pid: int, cpu: int, group_fd: int) -> int:
        kind, _, config = struct.unpack_from("=IIQ", attr)
        if kind in self.refuse:
            raise OSError(self.refuse[kind], "refused")
        self.opened.append((kind, config, cpu, group_fd))
        return 1000 + len(self.opened)

    def read(self, fd: int, size: int) -> bytes:
        if size == 24:
            return struct.pack("=QQQ", fd, 1, 1)
        count = (size - 24) // 8
        return struct.pack(f"={3 + count}Q", count, 1, 1, *range(count))


def _collector(kernel: FakeKernel, events: list[perf.PerfEvent], cpus: list[int],
               tracepoints: list[perf.Tracepoint] | None = None, mounts: str = perf.PROC_MOUNTS) -> perf.PerfCollector:
    return perf.PerfCollector(events, cpus, tracepoints or [], opener=kernel.open, starter=lambda fd, group: None,
                              reader=kernel.read, mounts=mounts)


def test_missing_events_are_left_out(caplog: pytest.LogCaptureFixture) -> None:
    kernel = FakeKernel({perf.PERF_TYPE_HARDWARE: errno.ENOENT, perf.PERF_TYPE_HW_CACHE: errno.ENOENT})
    with caplog.at_level(logging.INFO, "exporters.node"):
        collector = _collector(kernel, perf.select_events(False, False, False, []), [0, 1])
    assert len(caplog.records) == 1
    metrics = list(collector.collect())
    got = samples(metrics)
    assert {name for name, _ in got} == {e.metric for e in perf.SOFTWARE_EVENTS.values()}
    assert len(got) == 10 and set(types(metrics).values()) == {"counter"}


def test_everything_refused_fails_cleanly(caplog: pytest.LogCaptureFixture) -> None:
    kernel = FakeKernel({t: errno.EACCES for t in range(4)})
    with caplog.at_level(logging.INFO, "exporters.node"):
        collector = _collector(kernel, perf.select_events(False, False, False, []), [0])
        runner = CollectorRunner("node", {"perf": collector}, parallel=False)
        try:
            got = samples(runner.collect(None, ["perf"]))
        finally:
            runner.close()
    assert got[("node_scrape_collector_success", (("collector", "perf"),))] == 0
    assert not [name for name, _ in got if name.startswith("node_perf_")]
    assert [r.getMessage() for r in caplog.records] == ["perf counters unavailable", "collector failed"]


def test_tracepoints(tmp_path: Path) -> None:
    (tmp_path / "tracing/events/sched/sched_switch").mkdir(parents=True)
    (tmp_path / "tracing/events/sched/sched_switch/id").write_text("316\n")
    (tmp_path / "tracing/events/irq/irq_handler_entry").mkdir(parents=True)
    (tmp_path / "tracing/events/irq/irq_handler_entry/id").write_text("120\n")
    mounts = tmp_path / "mounts"
    mounts.write_text(f"proc /proc proc rw 0 0\ntracefs {tmp_path}/tracing tracefs rw 0 0\n")
    kernel = FakeKernel({})
    tracepoints = perf.parse_tracepoints(["sched:sched_switch", "irq:irq_handler_entry"])
    collector = _collector(kernel, [], [0, 1], tracepoints, str(mounts))
    # one group per CPU: the leader first (no group fd), the follower in its group
    assert kernel.opened == [(2, 316, 0, -1), (2, 120, 0, 1001), (2, 316, 1, -1), (2, 120, 1, 1003)]
    got = samples(collector.collect())
    assert got[("node_perf_irq_irq_handler_entry_total", (("cpu", "1"),))] == 1
    assert len(got) == 4
    # no such tracepoint: the other counters are served, the collector fails
    software = list(perf.SOFTWARE_EVENTS.values())
    broken = _collector(FakeKernel({}), software, [0], perf.parse_tracepoints(["sched:nope"]), str(mounts))
    got_metrics: list[object] = []
    with pytest.raises(OSError):
        for metric in broken.collect():
            got_metrics.append(metric)
    assert len(got_metrics) == len(software)


@pytest.mark.timeout(20)
def test_real_kernel_software_counters(tmp_path: Path) -> None:
    collector = perf.build(context(tmp_path, "--collector.perf", "--no-collector.perf.disable-software-profilers"))
    try:
        if not collector.state.counters:
            # the kernel refused everything here: the collector must say so, not serve nothing
            with pytest.raises(OSError, match="no perf counter could be opened"):
                list(collector.collect())
            return
        def faults() -> float:
            got = samples(collector.collect())
            assert all(name.startswith("node_perf_") for name, _ in got)
            return sum(v for (name, _), v in got.items() if name == "node_perf_minor_faults_total")

        first = faults()
        pages = bytearray(4096 * 1024)
        pages[::4096] = b"\1" * 1024  # write to 1024 fresh anonymous pages: minor faults on some CPU
        assert faults() >= first + 1000
    finally:
        collector.close()
