"""Golden exposition for the node collectors, from the reference node_exporter.

``python -m tests.node.golden --regenerate [NAME ...]`` runs the reference binaries with their
path flags on ``tests/fixtures/node/``: each row of ``COLLECTORS`` names its reference
generation (``tests.conftest.GENERATIONS``: "bookworm", Debian 12's node_exporter 1.5.0, the
default; "trixie", Debian 13's 1.9.0, for collectors 1.5.0 lacks or that 1.9.0 serves closer
to v1.7.0). Each binary runs once with every collector of its rows enabled with the flags
listed there, is scraped at ``/metrics?collect[]=NAME`` once per collector, and its sections
are written to ``golden.prom`` (one section per collector; with NAMEs, only those sections
are rewritten, the others kept as they were) and its command to ``golden.cmd``.

``python -m tests.node.golden`` runs our collectors in-process with the same flags on the
same tree and prints the per-collector differences (what ``test_golden.py`` asserts).

Samples are compared as a set of (name, labels, value), values equal to 1e-9 relative,
after ``UNSTABLE`` (what does not come from the fixture tree) and the reference -> v1.7.0
differences of ``tests/node/version_differences.py`` (the rows of the collector's generation).
The ``# HELP`` and ``# TYPE`` lines of every family both sides emit must be equal too (after
``HELP_DIFFERENCES`` there).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import find_reference_binary
from tests.node.version_differences import (
    REFERENCE_VERSIONS,
    Generation,
    Series,
    applies,
    expected_from_reference,
    expected_help,
    for_reference,
    without_added,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES_REL = "tests/fixtures/node"
FIXTURES = REPO / FIXTURES_REL
GOLDEN = FIXTURES / "golden.prom"
GOLDEN_CMD = FIXTURES / "golden.cmd"
SECTION = "# ---- collector "
RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GoldenCollector:
    """One collector of the golden run, the flags it needs (given to both exporters) and its reference."""

    name: str
    flags: tuple[str, ...] = ()
    reference: Generation = "bookworm"
    """The reference binary generation whose output is the golden section (see the module docstring)."""


# Collectors whose source is a daemon, not a file tree, have no golden section: each is compared
# with the reference binary against the real daemon in its test module (named here).
LIVE_ONLY: dict[str, str] = {
    "logind": "tests/node/test_logind.py",
    "ntp": "tests/node/test_ntp.py",
    "supervisord": "tests/node/test_supervisord.py",
    "systemd": "tests/node/test_systemd.py",
    "perf": "tests/node/test_perf.py",  # the kernel's perf counters, compared live in test_live_proc_sys.py
}

# One row per collector. The path flags are added for all; a collector's own flags go here.
# Rows for the Debian 13 reference (node_exporter 1.9.0) say reference="trixie".
COLLECTORS: tuple[GoldenCollector, ...] = (
    GoldenCollector("arp"),
    GoldenCollector("bcache"),
    GoldenCollector("bonding"),
    GoldenCollector("btrfs"),
    GoldenCollector("buddyinfo", reference="trixie"),
    GoldenCollector("cgroups", reference="trixie"),
    GoldenCollector("conntrack"),
    GoldenCollector(
        "cpu",
        (
            "--collector.cpu.info",
            "--collector.cpu.info.flags-include=^(fpu|sse|sse2|avx2?|aes)$",
            "--collector.cpu.info.bugs-include=^spectre_",
        ),
    ),
    GoldenCollector("cpu_vulnerabilities", reference="trixie"),
    GoldenCollector("cpufreq"),
    GoldenCollector("diskstats"),
    GoldenCollector("dmi"),
    GoldenCollector("drbd", reference="trixie"),
    GoldenCollector("drm", reference="trixie"),
    GoldenCollector("edac"),
    GoldenCollector("entropy"),
    GoldenCollector("fibrechannel"),
    # ethtool asks the running kernel about the tree's device names: a fixture device no host
    # has, so the section shows the device list honoured (tests/node/test_net_namespace.py
    # compares the ioctls against 1.9.0 on veth devices).
    GoldenCollector("ethtool", ("--collector.ethtool.device-include=^bond1$",), reference="trixie"),
    GoldenCollector("filefd"),
    GoldenCollector(
        "filesystem",
        # upstream's default, given explicitly: Debian's package excludes /run, /mnt and /media too
        ("--collector.filesystem.mount-points-exclude="
         "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",),
    ),
    GoldenCollector("hwmon"),
    GoldenCollector("infiniband"),
    GoldenCollector("interrupts"),
    GoldenCollector("ipvs"),
    GoldenCollector("ksmd", reference="trixie"),
    GoldenCollector("lnstat", reference="trixie"),
    GoldenCollector("loadavg"),
    GoldenCollector("mdadm"),
    GoldenCollector("meminfo"),
    GoldenCollector("meminfo_numa", reference="trixie"),
    GoldenCollector("mountstats", reference="trixie"),
    GoldenCollector("netclass"),
    # v1.5.0 (and v1.7.0) default to netlink, which ignores --path.*: read /proc/net/dev instead.
    GoldenCollector("netdev", ("--no-collector.netdev.netlink", "--collector.netdev.device-exclude=^ifb1$")),
    GoldenCollector("netstat"),
    GoldenCollector("network_route", reference="trixie"),
    GoldenCollector("nfs"),
    GoldenCollector("nfsd"),
    GoldenCollector("nvme"),
    GoldenCollector("os"),
    GoldenCollector("powersupplyclass"),
    GoldenCollector("pressure"),
    GoldenCollector("processes"),
    GoldenCollector("qdisc", (f"--collector.qdisc.fixtures={FIXTURES_REL}/qdisc",), reference="trixie"),
    GoldenCollector("rapl"),
    GoldenCollector("runit", (f"--collector.runit.servicedir={FIXTURES_REL}/runit",), reference="trixie"),
    GoldenCollector("schedstat"),
    GoldenCollector("selinux"),
    GoldenCollector("slabinfo", reference="trixie"),
    GoldenCollector("sockstat"),
    GoldenCollector("softirqs", reference="trixie"),
    GoldenCollector("softnet"),
    GoldenCollector("stat", ("--collector.stat.softirq",)),
    GoldenCollector(
        "sysctl",
        (
            "--collector.sysctl.include=vm.swappiness",
            "--collector.sysctl.include=vm.dirty_ratio",
            "--collector.sysctl.include=fs.file-nr",
            "--collector.sysctl.include=net.ipv4.tcp_rmem:min,default,max",
            "--collector.sysctl.include-info=kernel.core_pattern",
            "--collector.sysctl.include-info=net.ipv4.tcp_allowed_congestion_control",
        ),
        reference="trixie",
    ),
    GoldenCollector("tapestats"),
    GoldenCollector("tcpstat"),
    GoldenCollector("textfile", (f"--collector.textfile.directory={FIXTURES_REL}/textfile",)),
    GoldenCollector("thermal_zone"),
    GoldenCollector("time"),
    GoldenCollector("timex"),
    GoldenCollector("udp_queues"),
    GoldenCollector("uname"),
    GoldenCollector("vmstat"),
    GoldenCollector("wifi", (f"--collector.wifi.fixtures={FIXTURES_REL}/wifi",), reference="trixie"),
    GoldenCollector("xfs"),
    GoldenCollector("zfs"),
    GoldenCollector("zoneinfo", reference="trixie"),
)


@dataclass(frozen=True)
class Unstable:
    """Samples that are not a function of the fixture tree, and how much of them to compare.

    drop         not written to golden.prom, not compared;
    labels       name and labels compared, value ignored;
    label-names  name and label names compared, label values and value ignored.
    """

    name: str
    """Regular expression matched against the whole sample name."""
    compare: Literal["drop", "labels", "label-names"]
    why: str


UNSTABLE: tuple[Unstable, ...] = (
    Unstable(r"go_.*", "drop", "Go runtime of the reference process."),
    Unstable(r"process_.*", "drop", "The exporter process itself."),
    Unstable(r"promhttp_.*", "drop", "The reference's HTTP handler counters."),
    Unstable(r"node_exporter_build_info", "drop", "Build metadata (version, Go version) differs by design."),
    Unstable(r"node_scrape_collector_duration_seconds", "drop", "Wall-clock timing."),
    Unstable(r"node_time_seconds", "labels", "The current time."),
    Unstable(r"node_time_zone_offset_seconds", "label-names",
             "The time zone of the process, not the tree (the reference runs with TZ=UTC)."),
    Unstable(r"node_timex_.*", "labels", "adjtimex(2) of the running kernel, not a file."),
    Unstable(r"node_uname_info", "label-names", "uname(2) of the running kernel, not a file."),
    Unstable(r"node_selinux_.*", "labels", "v1.5.0 asks libselinux about the running host, ignoring --path.*."),
    Unstable(r"node_textfile_mtime_seconds", "labels", "File modification time after checkout."),
    Unstable(r"node_tcp_connection_states", "label-names",
             "The reference asks the running kernel over NETLINK_INET_DIAG, ignoring --path.procfs."),
    Unstable(r"node_network_routes?(_info)?", "label-names",
             "The running kernel's routing table (rtnetlink ignores --path.*)."),
    Unstable(r"node_filesystem_(avail_bytes|free_bytes|size_bytes|files|files_free)", "labels",
             "statfs(2) of the mount points of the running host."),
)


def unstable_rule(name: str) -> Unstable | None:
    for rule in UNSTABLE:
        if re.fullmatch(rule.name, name):
            return rule
    return None


# ---------------------------------------------------------------- argv for both exporters


def path_flags(base: str) -> list[str]:
    return [
        f"--path.procfs={base}/proc",
        f"--path.sysfs={base}/sys",
        f"--path.rootfs={base}/root",
        f"--path.udev.data={base}/udev",
    ]


def collector_flags(rows: Iterable[GoldenCollector], base: str) -> list[str]:
    argv = ["--collector.disable-defaults"]
    for row in rows:
        argv.append(f"--collector.{row.name}")
        argv.extend(flag.replace(FIXTURES_REL, base) for flag in row.flags)
    return argv


def rows_of(generation: str) -> list[GoldenCollector]:
    return [row for row in COLLECTORS if row.reference == generation]


def generation_of(collector: str) -> Generation:
    """The reference generation of a collector's golden section ("bookworm" when it has no row)."""
    for row in COLLECTORS:
        if row.name == collector:
            return row.reference
    return "bookworm"


def reference_argv(binary: str, port: int, generation: str = "bookworm") -> list[str]:
    return [
        binary,
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.disable-exporter-metrics",
        *path_flags(FIXTURES_REL),
        *collector_flags(rows_of(generation), FIXTURES_REL),
    ]


# ---------------------------------------------------------------- the reference side


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 10.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return str(response.read().decode("utf-8"))


def scrape_reference(
    argv_for_port: Sequence[str], port: int, names: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> dict[str, str]:
    """Start the reference, scrape ``collect[]=NAME`` for each name, stop it."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(
        list(argv_for_port), cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        end = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"reference exited with {proc.returncode}: {err[-2000:]}")
            try:
                _get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.05)
        return {name: _get(f"http://127.0.0.1:{port}/metrics?collect[]={name}") for name in names}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def strip_dropped(text: str) -> str:
    """The exposition text without the families ``UNSTABLE`` drops (raw lines otherwise kept)."""
    out = []
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            name = line.split(" ", 3)[2]
        elif line.startswith("#") or not line.strip():
            continue
        else:
            name = re.split(r"[{ ]", line, maxsplit=1)[0]
        rule = unstable_rule(name)
        if rule is not None and rule.compare == "drop":
            continue
        out.append(line)
    return "\n".join(out) + ("\n" if out else "")


def regenerate(names: Sequence[str] | None = None) -> None:
    """Rewrite golden.prom (only the sections of ``names`` when given) and golden.cmd."""
    unknown = sorted(set(names or ()) - {row.name for row in COLLECTORS})
    if unknown:
        raise SystemExit(f"not in COLLECTORS: {unknown}")
    sections = load_golden() if names and GOLDEN.exists() else {}
    commands = []
    for generation in REFERENCE_VERSIONS:
        rows = rows_of(generation)
        if not rows:
            continue
        binary = find_reference_binary("node", generation)
        if binary is None:
            raise SystemExit(f"reference node_exporter ({generation}) not found; see tests/conftest.py GENERATIONS")
        port = _free_port()
        argv = reference_argv(binary, port, generation)
        wanted = [row.name for row in rows if not names or row.name in names]
        if wanted:
            scraped = scrape_reference(argv, port, wanted, REPO, env={"TZ": "UTC"})
            sections.update({name: strip_dropped(text) for name, text in scraped.items()})
        # Debian 12's binary is on PATH; Debian 13's is under $EXPORTERS_ORACLES (default .oracles).
        program = "prometheus-node-exporter"
        if generation != "bookworm":
            program = f"$ORACLES/usr/bin/{program}"
        shown = [program if a == binary else a for a in argv]
        shown[1] = "--web.listen-address=127.0.0.1:PORT"
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        first_line = (version.stdout or version.stderr).splitlines()[0]
        commands.append(
            f"# {generation}: {first_line}\n"
            f"# for each collector NAME of tests/node/golden.py's COLLECTORS with reference={generation!r}:\n"
            "TZ=UTC " + " \\\n    ".join(arg if arg == program else shlex.quote(arg) for arg in shown) + "\n"
        )
    parts = [
        "# Golden output of the reference node_exporter on tests/fixtures/node (see golden.cmd).\n"
        "# Regenerate: python -m tests.node.golden --regenerate [COLLECTOR ...]\n"
    ]
    for row in COLLECTORS:
        parts.append(f"{SECTION}{row.name}\n")
        parts.append(sections.get(row.name, ""))
    GOLDEN.write_text("".join(parts))
    GOLDEN_CMD.write_text(
        "# Run from the repository root; then GET http://127.0.0.1:PORT/metrics?collect[]=NAME,\n"
        "# written to golden.prom as one section per collector.\n" + "\n".join(commands)
    )


def load_golden(path: Path = GOLDEN) -> dict[str, str]:
    """golden.prom split into its per-collector sections."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in path.read_text().splitlines():
        if line.startswith(SECTION):
            current = sections.setdefault(line[len(SECTION):].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) + "\n" for name, lines in sections.items()}


# ---------------------------------------------------------------- our side


def implemented_collectors() -> list[str]:
    """Names of the collectors in exporters/node/collectors/ for this system (each module with a SPEC)."""
    from exporters.node.main import collector_specs

    return [spec.name for spec in collector_specs()]


def our_argv(names: Iterable[str]) -> list[str]:
    # Relative, as in the reference run: the rapl collector's path label carries --path.sysfs.
    base = os.path.relpath(FIXTURES)
    wanted = set(names)
    rows = [row for row in COLLECTORS if row.name in wanted]
    return [*path_flags(base), *collector_flags(rows, base)]


def scrape_ours(names: Sequence[str]) -> dict[str, str]:
    """Our collectors in-process on the fixture tree: exposition text per collector."""
    from exporters.core.exposition import render_text
    from exporters.core.runner import CollectorRunner
    from exporters.node.main import build_collector, build_parser, collector_specs, node_context

    specs = collector_specs()
    context = node_context(build_parser(specs).parse_args(our_argv(names)), specs)
    by_name = {spec.name: spec for spec in specs}
    collectors = {name: build_collector(by_name[name], context) for name in names}
    runner = CollectorRunner("node", collectors, logging.getLogger("exporters.node.golden"), parallel=False)
    try:
        return {name: render_text(runner.collect(None, [name])).decode("utf-8") for name in names}
    finally:
        runner.close()


# ---------------------------------------------------------------- comparison


def parse_samples(text: str) -> set[Series]:
    out: set[Series] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.add(Series(sample.name, tuple(sorted(sample.labels.items())), float(sample.value)))
    return out


def _key(series: Series, level: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    if level == "label-names":
        return series.name, tuple((name, "") for name, _ in series.labels)
    return series.name, series.labels


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)


@dataclass
class Diff:
    """Differences for one collector (empty lists: identical)."""

    collector: str
    missing: list[Series] = field(default_factory=list)
    """In the (adjusted) reference, not in ours."""
    extra: list[Series] = field(default_factory=list)
    """In ours, not in the reference."""
    values: list[tuple[Series, Series]] = field(default_factory=list)
    """(reference, ours) with the same name and labels but different values."""
    metadata: list[str] = field(default_factory=list)
    """Families both emit whose ``# HELP`` or ``# TYPE`` line differs."""

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.values or self.metadata)

    def report(self, limit: int = 30) -> str:
        lines = [f"collector {self.collector}: {len(self.missing)} missing, {len(self.extra)} extra, "
                 f"{len(self.values)} value differences, {len(self.metadata)} HELP/TYPE differences"]
        lines.extend(f"  # {line}" for line in self.metadata[:limit])
        for s in sorted(self.missing, key=_sort)[:limit]:
            lines.append(f"  - missing {_show(s)}")
        for s in sorted(self.extra, key=_sort)[:limit]:
            lines.append(f"  + extra   {_show(s)}")
        for ref, ours in sorted(self.values, key=lambda p: _sort(p[0]))[:limit]:
            lines.append(f"  ~ value   {_show(ref)}  ours={ours.value!r}")
        return "\n".join(lines)


def _sort(s: Series) -> tuple[str, tuple[tuple[str, str], ...]]:
    return s.name, s.labels


def _show(s: Series) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in s.labels)
    return f"{s.name}{{{labels}}} {s.value!r}"


META_LINE = re.compile(r"# (HELP|TYPE) (\S+)(?: (.*))?$")


def parse_metadata(text: str) -> dict[tuple[str, str], str]:
    """``(HELP|TYPE, family) -> text`` from the comment lines of an exposition."""
    out: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        match = META_LINE.match(line)
        if match is not None:
            out[(match.group(1), match.group(2))] = match.group(3) or ""
    return out


def compare_metadata(collector: str, reference_text: str, ours_text: str) -> list[str]:
    """HELP and TYPE lines of the families both emit, after the documented help changes."""
    reference, ours = parse_metadata(reference_text), parse_metadata(ours_text)
    problems = []
    for kind, family in sorted(set(reference) & set(ours)):
        rule = unstable_rule(family)
        if rule is not None and rule.compare == "drop":
            continue
        want = reference[(kind, family)]
        if kind == "HELP":
            want = expected_help(collector, family, want)
        got = ours[(kind, family)]
        if got != want:
            problems.append(f"{kind} {family}: reference {want!r}, ours {got!r}")
    return problems


def compare(collector: str, reference_text: str, ours_text: str) -> Diff:
    """Compare one collector's samples (after UNSTABLE and the version differences) and metadata."""
    differences = for_reference(generation_of(collector))
    reference = expected_from_reference(parse_samples(reference_text), differences)
    ours = without_added(parse_samples(ours_text), differences)
    diff = Diff(collector)
    ref_keyed: dict[tuple[str, tuple[tuple[str, str], ...]], list[Series]] = {}
    our_keyed: dict[tuple[str, tuple[tuple[str, str], ...]], list[Series]] = {}
    for side, keyed in ((reference, ref_keyed), (ours, our_keyed)):
        for s in side:
            rule = unstable_rule(s.name)
            if rule is not None and rule.compare == "drop":
                continue
            level = rule.compare if rule is not None else "value"
            keyed.setdefault(_key(s, level), []).append(s)
    for key, refs in ref_keyed.items():
        mine = our_keyed.get(key)
        if mine is None:
            diff.missing.extend(refs)
            continue
        rule = unstable_rule(key[0])
        if rule is None and not _close(refs[0].value, mine[0].value):
            diff.values.append((refs[0], mine[0]))
    for key, mine in our_keyed.items():
        if key not in ref_keyed:
            diff.extra.extend(mine)
    diff.metadata = compare_metadata(collector, reference_text, ours_text)
    return diff


def compare_all(names: Sequence[str] | None = None) -> list[Diff]:
    golden = load_golden()
    implemented = implemented_collectors()
    chosen = [n for n in (names or implemented) if n in golden and n in implemented]
    ours = scrape_ours(chosen)
    return [compare(name, golden[name], ours[name]) for name in chosen]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.node.golden", description=__doc__.split("\n\n")[0])
    parser.add_argument("--regenerate", action="store_true",
                        help="rewrite golden.prom from the reference binaries (only the named collectors' sections)")
    parser.add_argument("collectors", nargs="*", help="compare (or regenerate) only these collectors")
    args = parser.parse_args(argv)
    if args.regenerate:
        regenerate(args.collectors or None)
        print(f"wrote {GOLDEN.relative_to(REPO)} and {GOLDEN_CMD.relative_to(REPO)}")
        return 0
    failed = 0
    for diff in compare_all(args.collectors or None):
        print(diff.report() if diff else f"collector {diff.collector}: ok")
        failed += bool(diff)
    return 1 if failed else 0


__all__ = ["COLLECTORS", "UNSTABLE", "Diff", "applies", "compare", "compare_all", "generation_of", "load_golden",
           "regenerate"]

if __name__ == "__main__":
    sys.exit(main())
