"""Parsers and collectors: meminfo, loadavg, vmstat, filefd, entropy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporters.core.flags import ConfigError
from exporters.node.collectors import entropy, filefd, loadavg, meminfo, vmstat
from exporters.node.collectors._strconv import go_parse_float
from tests.node.collected import collect_partial, samples, types
from tests.node.fake_host import make_context, write


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("MemTotal:       16322784 kB\n", {"MemTotal_bytes": 16322784 * 1024.0}),
        ("Active(anon):     123 kB\n", {"Active_anon_bytes": 123 * 1024.0}),
        ("HugePages_Total:       4\n", {"HugePages_Total": 4.0}),
        ("\nMemFree: 1 kB\n\n", {"MemFree_bytes": 1024.0}),
        # A kernel before 3.14 has no MemAvailable: nothing is invented.
        ("MemTotal: 2 kB\nMemFree: 1 kB\nBuffers: 0 kB\n", {"MemTotal_bytes": 2048.0, "MemFree_bytes": 1024.0,
                                                           "Buffers_bytes": 0.0}),
        ("Weird(a)(b): 1\n", {"Weird_a)(b": 1.0}),  # greedy, as Go's regexp
    ],
)
def test_parse_meminfo(text: str, expect: dict[str, float]) -> None:
    assert meminfo.parse_meminfo(text) == expect


@pytest.mark.parametrize("text", ["MemTotal: x kB\n", "MemTotal: 1 kB extra\n", "MemTotal:\n", "MemTotal: 1_0\n"])
def test_parse_meminfo_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        meminfo.parse_meminfo(text)


def test_meminfo_collector(tmp_path: Path) -> None:
    write(tmp_path, "proc/meminfo", "MemTotal: 4 kB\nHugePages_Free: 2\nFoo_total: 3\n")
    got = list(meminfo.MeminfoCollector(make_context(tmp_path)).collect())
    values = samples(got)
    assert values[("node_memory_MemTotal_bytes", ())] == 4096
    assert values[("node_memory_HugePages_Free", ())] == 2
    assert values[("node_memory_Foo_total", ())] == 3  # upstream types *_total as a counter, name unchanged
    assert types(got)["node_memory_Foo_total"] == "counter"
    assert types(got)["node_memory_MemTotal_bytes"] == "gauge"


@pytest.mark.parametrize(
    ("text", "expect"),
    [("0.19 0.15 0.09 2/154 9486\n", [0.19, 0.15, 0.09]), ("1 2 3", [1.0, 2.0, 3.0])],
)
def test_parse_loadavg(text: str, expect: list[float]) -> None:
    assert loadavg.parse_loadavg(text) == expect


@pytest.mark.parametrize("text", ["", "0.1 0.2", "0.1 x 0.3 1/2 3"])
def test_parse_loadavg_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        loadavg.parse_loadavg(text)


def test_loadavg_collector(tmp_path: Path) -> None:
    write(tmp_path, "proc/loadavg", "0.5 1.5 2.5 1/100 42\n")
    values = samples(loadavg.LoadavgCollector(make_context(tmp_path)).collect())
    assert values == {("node_load1", ()): 0.5, ("node_load5", ()): 1.5, ("node_load15", ()): 2.5}


VMSTAT = "nr_free_pages 100\npgpgin 5\npgfault 7\npswpout 0\noom_kill 1\nworkingset_refault 3\n"


@pytest.mark.parametrize(
    ("pattern", "expect"),
    [
        (vmstat.DEFAULT_FIELDS, ["pgpgin", "pgfault", "pswpout", "oom_kill"]),
        ("refault", ["workingset_refault"]),  # unanchored, as Go's MatchString
        ("^nr_", ["nr_free_pages"]),
    ],
)
def test_parse_vmstat(pattern: str, expect: list[str]) -> None:
    got = vmstat.parse_vmstat(VMSTAT, re.compile(pattern))
    assert [name for name, _ in got] == expect


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text", [
    VMSTAT, VMSTAT.rstrip("\n"), "", "pgpgin 1 2\npgfault 10\n", "pgpgin 1\r\npswpin 2\rpgfault 1e3\n",
    "pgpgin 1\x0bpgfault 2\n", "pgpgin 0001\npgfault  3\n",
])
def test_parse_vmstat_fast_path_is_the_line_by_line_parse(text: str) -> None:
    fields = re.compile(vmstat.DEFAULT_FIELDS)
    matched: dict[str, bool] = {}
    slow = [(parts[0], go_parse_float(parts[1])) for parts in (line.split() for line in text.splitlines())
            if fields.search(parts[0])]
    assert vmstat.parse_vmstat(text, fields, matched) == slow
    assert vmstat.parse_vmstat(text, fields, matched) == slow  # with the names remembered


@pytest.mark.parametrize("text", ["pgpgin\n", "pgpgin x\n", "\n", "nr_free_pages x\npgpgin 1\n",
                                  "pgpgin " + "9" * 310 + "\n"])
def test_parse_vmstat_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        vmstat.parse_vmstat(text, re.compile(vmstat.DEFAULT_FIELDS))


def test_vmstat_collector(tmp_path: Path) -> None:
    write(tmp_path, "proc/vmstat", VMSTAT)
    got = list(vmstat.VmstatCollector(make_context(tmp_path, "--collector.vmstat.fields=^pg")).collect())
    assert samples(got) == {("node_vmstat_pgpgin", ()): 5.0, ("node_vmstat_pgfault", ()): 7.0}
    assert set(types(got).values()) == {"unknown"}
    with pytest.raises(ConfigError):
        vmstat.VmstatCollector(make_context(tmp_path, "--collector.vmstat.fields=(["))


@pytest.mark.parametrize(
    ("text", "expect"),
    [("1376\t0\t9223372036854775807\n", {"allocated": 1376.0, "maximum": 9223372036854775807.0}),
     ("5\t0\t10", {"allocated": 5.0, "maximum": 10.0})],
)
def test_parse_file_nr(text: str, expect: dict[str, float]) -> None:
    assert filefd.parse_file_nr(text) == expect


@pytest.mark.parametrize("text", ["1 0 2\n", "1\t0\n", "x\t0\t1\n", ""])
def test_parse_file_nr_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        filefd.parse_file_nr(text)


def test_filefd_collector(tmp_path: Path) -> None:
    write(tmp_path, "proc/sys/fs/file-nr", "7\t0\t99\n")
    values = samples(filefd.FilefdCollector(make_context(tmp_path)).collect())
    assert values == {("node_filefd_allocated", ()): 7.0, ("node_filefd_maximum", ()): 99.0}


@pytest.mark.parametrize(
    ("files", "expect", "error"),
    [
        ({"entropy_avail": "256\n", "poolsize": "256\n"}, {"node_entropy_available_bits": 256.0,
                                                           "node_entropy_pool_size_bits": 256.0}, None),
        ({"entropy_avail": "3\n"}, {"node_entropy_available_bits": 3.0}, ValueError),  # first sample kept
        ({"poolsize": "4096\n"}, {}, ValueError),
        ({"entropy_avail": "1\n", "poolsize": "2\n", "write_wakeup_threshold": "x\n"}, {}, ValueError),
        ({"entropy_avail": "-1\n", "poolsize": "2\n"}, {}, ValueError),
    ],
)
def test_entropy_collector(tmp_path: Path, files: dict[str, str], expect: dict[str, float],
                           error: type[Exception] | None) -> None:
    for name, text in files.items():
        write(tmp_path, f"proc/sys/kernel/random/{name}", text)
    got, err = collect_partial(entropy.EntropyCollector(make_context(tmp_path)))
    assert {k[0]: v for k, v in samples(got).items()} == expect
    assert (type(err) if err else None) is error
