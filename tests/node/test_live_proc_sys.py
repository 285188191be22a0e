"""Live side by side with node_exporter 1.9.0: the /proc and /sys collectors (and perf) added for v1.7.0 parity.

Both exporters read this host's real /proc and /sys with the same flags; every family must
have the same type and label names (after tests/node/version_differences.py's 1.9.0 rows),
every collector the same success, and the values that do not move between two scrapes
must be equal. Collectors whose source this host lacks (DRBD, an AMD GPU, NFS mounts) are
compared too: both sides must agree that there is nothing, or no data. perf counters move, so
only their families are compared; where the kernel refuses every counter, upstream reports
success with no series and ours failure (a documented difference), so perf's success is not.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningExporter, free_port, reference_binary, start_exporter, wait_http
from tests.node.test_live_reference import Family, families, get

COLLECTORS = ("buddyinfo", "cgroups", "cpu_vulnerabilities", "drbd", "drm", "ksmd", "lnstat", "meminfo_numa",
              "mountstats", "perf", "slabinfo", "softirqs", "sysctl", "zoneinfo")
FLAGS = (
    "--collector.disable-defaults",
    *(f"--collector.{name}" for name in COLLECTORS),
    "--collector.sysctl.include=vm.swappiness",
    "--collector.sysctl.include=fs.file-max",
    "--collector.sysctl.include=net.ipv4.tcp_rmem:min,default,max",
    "--collector.sysctl.include=kernel.printk",
    "--collector.sysctl.include-info=kernel.ostype",
    "--collector.sysctl.include-info=net.ipv4.tcp_available_congestion_control",
)
# Values that do not move between the two scrapes.
STABLE = re.compile(
    r"node_scrape_collector_success|node_cgroups_enabled|node_cpu_vulnerabilities_info|node_ksmd_(run|pages_to_scan"
    r"|sleep_seconds|merge_across_nodes)|node_memory_numa_MemTotal|node_sysctl_.*"
    r"|node_slabinfo_(object_size_bytes|objects_per_slab|pages_per_slab)"
    r"|node_zoneinfo_(spanned|present|managed)_pages|node_zoneinfo_protection_\d+"
)


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Family], dict[str, Family]]]:
    binary = reference_binary("node", "trixie")
    tmp: Path = tmp_path_factory.mktemp("live-proc-sys")
    port = free_port()
    with (tmp / "reference.log").open("wb") as log:
        ref = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}", *FLAGS], stdout=log,
                               stderr=subprocess.STDOUT)
    ours: RunningExporter | None = None
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc=ref)
        ours = start_exporter("node", FLAGS, tmp)
        ours_text = get(f"{ours.url}/metrics")
        ref_text = get(f"http://127.0.0.1:{port}/metrics")
        yield families(ref_text, "reference", "trixie"), families(ours_text, "ours", "trixie")
    finally:
        if ours is not None:
            ours.stop()
        ref.terminate()
        ref.wait(10)


@pytest.mark.timeout(60)
def test_same_families_types_and_labels(scrapes: tuple[dict[str, Family], dict[str, Family]]) -> None:
    ref, ours = scrapes
    problems = []
    for name in sorted(set(ref) | set(ours)):
        if name not in ours or name not in ref:
            side = "the reference" if name in ref else "ours"
            problems.append(f"only {side} emits {name}")
        elif (ref[name].type, ref[name].label_names) != (ours[name].type, ours[name].label_names):
            problems.append(f"{name}: ours {ours[name].type} {sorted(ours[name].label_names)}, "
                            f"reference {ref[name].type} {sorted(ref[name].label_names)}")
    assert not problems, "\n".join(problems)
    assert len(ours) > 50


@pytest.mark.timeout(60)
def test_stable_values_equal(scrapes: tuple[dict[str, Family], dict[str, Family]]) -> None:
    ref, ours = scrapes
    perf_success = ("node_scrape_collector_success", (("collector", "perf"),))

    def stable(family: Family) -> set[tuple[tuple[str, tuple[tuple[str, str], ...]], float]]:
        return {item for item in family.samples.items() if item[0] != perf_success}

    compared = [name for name in sorted(set(ref) & set(ours)) if STABLE.fullmatch(name)]
    problems = [f"{name}: reference {sorted(stable(ref[name]) - stable(ours[name]))[:3]}, "
                f"ours {sorted(stable(ours[name]) - stable(ref[name]))[:3]}"
                for name in compared if stable(ref[name]) != stable(ours[name])]
    assert not problems, "\n".join(problems)
    success = ours["node_scrape_collector_success"].samples
    assert {dict(labels)["collector"] for _, labels in success} == set(COLLECTORS)
    assert len(compared) > 10
