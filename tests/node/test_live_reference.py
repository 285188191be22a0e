"""Live side by side: the reference node_exporter and ours on this host's real /proc and /sys.

Every family both emit must have the same type and the same label names; families only
one side emits must be explained in tests/node/version_differences.py; values that do
not move (MemTotal, CPU count, boot time, filesystem sizes...) must be equal.
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningExporter, free_port, reference_binary, wait_http
from tests.node import golden
from tests.node.version_differences import Series, expected_from_reference, for_reference, without_added

# Families of the exporters themselves, not of the host.
SELF_METRICS = re.compile(
    r"(go|process|promhttp|python)_.*|node_exporter_build_info|node_scrape_collector_duration_seconds"
)
# Collector options given to both sides when the collector exists here.
# The filesystem excludes are upstream v1.7.0's defaults (collector/filesystem_linux.go), given to
# both because Debian's package changed the reference's (it also excludes /mnt and /media).
OPTIONS: dict[str, Callable[[Path], list[str]]] = {
    "cpu": lambda tmp: ["--collector.cpu.info"],
    "textfile": lambda tmp: [f"--collector.textfile.directory={tmp}"],
    "filesystem": lambda tmp: [
        "--collector.filesystem.mount-points-exclude="
        "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
        "--collector.filesystem.fs-types-exclude="
        "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs"
        "|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$",
    ],
}
# Off by default upstream, switched on here to compare them too.
EXTRA = ("processes", "interrupts", "tcpstat")
# Families whose values must be equal on both sides (they do not move between two scrapes).
STABLE = re.compile(
    r"node_memory_(MemTotal|SwapTotal|Hugepagesize)_bytes|node_boot_time_seconds|node_cpu_info"
    r"|node_entropy_pool_size_bits|node_filefd_maximum|node_processes_max_(processes|threads)"
    r"|node_nf_conntrack_entries_limit|node_time_clocksource_.*|node_os_info|node_os_version|node_uname_info"
    r"|node_timex_tick_seconds|node_timex_tai_offset_seconds|node_filesystem_(size_bytes|readonly)"
    r"|node_disk_info|node_network_(mtu_bytes|address_assign_type|device_id|iface_id|iface_link|protocol_type)"
    r"|node_scrape_collector_success|node_selinux_.*|node_cpu_isolated|node_cpu_(scaling_)?frequency_(min|max)_hertz"
    r"|node_cpu_(flag|bug)_info|node_time_zone_offset_seconds"
)


@dataclass
class Family:
    type: str
    label_names: set[tuple[str, ...]] = field(default_factory=set)
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)


def families(text: str, side: str, generation: str = "bookworm") -> dict[str, Family]:
    """The families of a scrape, after the reference (v1.5.0, or 1.9.0 for "trixie") -> v1.7.0 differences.

    The reference's samples become what v1.7.0 would emit ('removed' dropped, 'changed'
    applied); ours lose the samples v1.7.0 added. What is left must match family by family.
    """
    kinds: dict[str, str] = {}
    series: set[Series] = set()
    for metric in text_string_to_metric_families(text):
        for sample in metric.samples:
            if SELF_METRICS.fullmatch(sample.name) or SELF_METRICS.fullmatch(metric.name):
                continue
            kinds[sample.name] = metric.type
            series.add(Series(sample.name, tuple(sorted(sample.labels.items())), float(sample.value)))
    differences = for_reference(generation)
    adjusted = (expected_from_reference(series, differences) if side == "reference"
                else without_added(series, differences))
    out: dict[str, Family] = {}
    for s in adjusted:
        family = out.setdefault(s.name, Family(kinds.get(s.name, "untyped")))
        family.label_names.add(tuple(name for name, _ in s.labels))
        family.samples[(s.name, s.labels)] = s.value
    return out


def reference_collectors(binary: str) -> set[str]:
    """The collectors the reference binary knows (from its --help)."""
    text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    return set(re.findall(r"--\[?(?:no-)?\]?collector\.([a-z_]+)\s", text.stdout + text.stderr))


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=20) as response:
        return str(response.read().decode("utf-8"))


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Family], dict[str, Family], str]]:
    from tests.conftest import start_exporter

    binary = reference_binary("node")
    tmp = tmp_path_factory.mktemp("live")
    textfiles = tmp / "textfile"
    textfiles.mkdir()
    ours_names = set(golden.implemented_collectors())
    from exporters.node.main import collector_specs

    defaults = {spec.name for spec in collector_specs() if spec.enabled_by_default}
    known = reference_collectors(binary)
    chosen = sorted((defaults | (set(EXTRA) & ours_names)) & known)
    flags = ["--collector.disable-defaults"]
    for name in chosen:
        flags.append(f"--collector.{name}")
        if name in OPTIONS:
            flags.extend(OPTIONS[name](textfiles))
    port = free_port()
    log = (tmp / "reference.log").open("wb")
    ref = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}", *flags], stdout=log,
                           stderr=subprocess.STDOUT)
    ours: RunningExporter | None = None
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=ref)
        ours = start_exporter("node", flags, tmp)
        ours_text = get(f"{ours.url}/metrics")
        ref_text = get(f"http://127.0.0.1:{port}/metrics")
        yield families(ref_text, "reference"), families(ours_text, "ours"), ", ".join(chosen)
    finally:
        if ours is not None:
            ours.stop()
        ref.terminate()
        ref.wait(10)
        log.close()


@pytest.mark.timeout(60)
def test_same_families_types_and_labels(scrapes: tuple[dict[str, Family], dict[str, Family], str]) -> None:
    ref, ours, chosen = scrapes
    problems = []
    for name in sorted(set(ref) | set(ours)):
        if name not in ours:
            problems.append(f"only the reference emits {name} {sorted(ref[name].label_names)}")
            continue
        if name not in ref:
            problems.append(f"only ours emits {name} {sorted(ours[name].label_names)}")
            continue
        if ref[name].type != ours[name].type:
            problems.append(f"{name}: type {ours[name].type}, reference {ref[name].type}")
        if ref[name].label_names != ours[name].label_names:
            problems.append(f"{name}: labels {sorted(ours[name].label_names)}, reference "
                            f"{sorted(ref[name].label_names)}")
    assert not problems, f"collectors: {chosen}\n" + "\n".join(problems)


@pytest.mark.timeout(60)
def test_stable_values_equal(scrapes: tuple[dict[str, Family], dict[str, Family], str]) -> None:
    ref, ours, _ = scrapes
    # A mount that fails statfs on either side (a hung or vanished mount) has no stable size.
    broken = {labels for side in (ref, ours) for (_, labels), value in
              side.get("node_filesystem_device_error", Family("gauge")).samples.items() if value == 1}
    problems = []
    for name in sorted(set(ref) & set(ours)):
        if not STABLE.fullmatch(name):
            continue
        mine = {k: v for k, v in ours[name].samples.items() if k[1] not in broken}
        theirs = {k: v for k, v in ref[name].samples.items() if k[1] not in broken}
        if name.startswith("node_filesystem_"):
            # Mounts come and go between the two scrapes (tests of hung mounts run in parallel):
            # compare the mounts both saw, and require that they saw most of the same ones.
            common = mine.keys() & theirs.keys()
            if len(common) < max(len(mine), len(theirs)) / 2:
                problems.append(f"{name}: few mounts in common: ours {sorted(mine)}, reference {sorted(theirs)}")
            mine = {k: mine[k] for k in common}
            theirs = {k: theirs[k] for k in common}
        if mine != theirs:
            only_ref = set(theirs.items()) - set(mine.items())
            only_ours = set(mine.items()) - set(theirs.items())
            problems.append(f"{name}: reference only {sorted(only_ref)[:5]}, ours only {sorted(only_ours)[:5]}")
    assert not problems, "\n".join(problems)


@pytest.mark.timeout(60)
def test_core_host_facts(scrapes: tuple[dict[str, Family], dict[str, Family], str]) -> None:
    ref, ours, _ = scrapes

    def cpus(side: dict[str, Family]) -> set[str]:
        return {dict(labels)["cpu"] for (_, labels) in side["node_cpu_seconds_total"].samples}

    assert cpus(ours) == cpus(ref) and len(cpus(ours)) >= 1
    for name in ("node_memory_MemTotal_bytes", "node_boot_time_seconds"):
        assert ours[name].samples == ref[name].samples, name
    # Counters that only grow: ours (scraped first) is not above the reference's.
    for name in ("node_context_switches_total", "node_intr_total", "node_forks_total"):
        (key, theirs), = ref[name].samples.items()
        assert 0 < ours[name].samples[key] <= theirs, name
