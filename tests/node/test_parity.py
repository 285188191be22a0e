"""Collector and flag parity with node_exporter v1.7.0 on Linux.

The tables below were written down from node_exporter's source at tag v1.7.0:
``registerCollector(...)`` in every ``collector/*.go`` file whose build constraint admits
Linux, ``kingpin.Flag(...)`` in those files and in ``node_exporter.go``, and
exporter-toolkit's ``kingpinflag.AddFlags`` plus promlog's ``--log.*`` flags.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pytest

from exporters.core.flags import ConfigError, enabled_collectors
from exporters.node.collectors import diskstats, filesystem
from exporters.node.collectors._flags import compile_go_regex
from exporters.node.context import NodeContext
from exporters.node.main import NOT_PROVIDED, build_parser, collector_specs, main

# name -> enabled by default, for every collector node_exporter v1.7.0 registers on Linux.
UPSTREAM_COLLECTORS: dict[str, bool] = {
    "arp": True, "bcache": True, "bonding": True, "btrfs": True, "buddyinfo": False,
    "cgroups": False, "conntrack": True, "cpu": True, "cpu_vulnerabilities": False,
    "cpufreq": True, "diskstats": True, "dmi": True, "drbd": False, "drm": False,
    "edac": True, "entropy": True, "ethtool": False, "fibrechannel": True, "filefd": True,
    "filesystem": True, "hwmon": True, "infiniband": True, "interrupts": False, "ipvs": True,
    "ksmd": False, "lnstat": False, "loadavg": True, "logind": False, "mdadm": True,
    "meminfo": True, "meminfo_numa": False, "mountstats": False, "netclass": True,
    "netdev": True, "netstat": True, "network_route": False, "nfs": True, "nfsd": True,
    "ntp": False, "nvme": True, "os": True, "perf": False, "powersupplyclass": True,
    "pressure": True, "processes": False, "qdisc": False, "rapl": True, "runit": False,
    "schedstat": True, "selinux": True, "slabinfo": False, "sockstat": True, "softirqs": False,
    "softnet": True, "stat": True, "supervisord": False, "sysctl": False, "systemd": False,
    "tapestats": True, "tcpstat": False, "textfile": True, "thermal_zone": True,
    "time": True, "timex": True, "udp_queues": True, "uname": True, "vmstat": True,
    "wifi": False, "xfs": True, "zfs": True, "zoneinfo": False,
}

LEFT_OUT = NOT_PROVIDED

# Options of the left-out collectors (rejected with their collector).
LEFT_OUT_FLAGS = [
    "--collector.imaginary.option=x",  # every v1.7.0 Linux collector is provided: an unknown one
]

DISKSTATS_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"
MOUNT_POINTS_EXCLUDE = (
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
FS_TYPES_EXCLUDE = (
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660"
    "|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$"
)
NETSTAT_FIELDS = (
    "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
    "|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)"
    "|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
    "|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)

# Value flags: flag -> (a valid value to pass, the upstream default).
VALUE_FLAGS: dict[str, tuple[str, object]] = {
    "--path.procfs": ("/p", "/proc"),
    "--path.sysfs": ("/s", "/sys"),
    "--path.rootfs": ("/r", "/"),
    "--path.udev.data": ("/u", "/run/udev/data"),
    "--web.telemetry-path": ("/m", "/metrics"),
    "--web.max-requests": ("3", 40),
    "--web.config.file": ("w.yml", ""),
    "--log.level": ("debug", "info"),
    "--log.format": ("json", "logfmt"),
    "--runtime.gomaxprocs": ("2", 1),
    "--collector.arp.device-include": ("x", ""),
    "--collector.arp.device-exclude": ("x", ""),
    "--collector.cpu.info.flags-include": ("x", ""),
    "--collector.cpu.info.bugs-include": ("x", ""),
    "--collector.diskstats.ignored-devices": ("x", ""),
    "--collector.diskstats.device-include": ("x", ""),
    "--collector.ethtool.device-include": ("x", ""),
    "--collector.ethtool.device-exclude": ("x", ""),
    "--collector.ethtool.metrics-include": ("x", ".*"),
    "--collector.filesystem.ignored-mount-points": ("x", ""),
    "--collector.filesystem.ignored-fs-types": ("x", ""),
    "--collector.filesystem.mount-timeout": ("2s", 5.0),
    "--collector.filesystem.stat-workers": ("2", 4),
    "--collector.hwmon.chip-include": ("x", ""),
    "--collector.hwmon.chip-exclude": ("x", ""),
    "--collector.ipvs.backend-labels": (
        "proto", "local_address,local_port,remote_address,remote_port,proto,local_mark"),
    "--collector.netclass.ignored-devices": ("x", "^$"),
    "--collector.netdev.device-include": ("x", ""),
    "--collector.netdev.device-whitelist": ("x", ""),
    "--collector.netdev.device-exclude": ("x", ""),
    "--collector.netdev.device-blacklist": ("x", ""),
    "--collector.netstat.fields": ("x", NETSTAT_FIELDS),
    "--collector.perf.cpus": ("0-1", ""),
    "--collector.perf.tracepoint": ("sched:sched_switch", None),  # Strings(): repeatable, empty by default
    "--collector.perf.hardware-profilers": ("CpuCycles", None),
    "--collector.perf.software-profilers": ("PageFault", None),
    "--collector.perf.cache-profilers": ("LLReadHit", None),
    "--collector.powersupply.ignored-supplies": ("x", "^$"),
    "--collector.qdisc.fixtures": ("x", ""),
    "--collector.qdisc.device-include": ("x", ""),
    "--collector.qdisc.device-exclude": ("x", ""),
    "--collector.qdisk.device-include": ("x", ""),
    "--collector.qdisk.device-exclude": ("x", ""),
    "--collector.sysctl.include": ("x", None),  # kingpin Strings(): repeatable, empty by default
    "--collector.sysctl.include-info": ("x", None),
    "--collector.tapestats.ignored-devices": ("x", "^$"),
    "--collector.ntp.server": ("127.0.0.2", "127.0.0.1"),
    "--collector.ntp.server-port": ("1123", 123),
    "--collector.ntp.protocol-version": ("3", 4),
    "--collector.ntp.ip-ttl": ("2", 1),
    "--collector.ntp.max-distance": ("1s", 3.46608),
    "--collector.ntp.local-offset-tolerance": ("5ms", 0.001),
    "--collector.runit.servicedir": ("/s", "/etc/service"),
    "--collector.supervisord.url": ("http://x/RPC2", "http://localhost:9001/RPC2"),
    "--collector.systemd.unit-whitelist": ("x", ""),
    "--collector.systemd.unit-blacklist": ("x", ""),
    "--collector.textfile.directory": ("x", ""),
    "--collector.vmstat.fields": ("x", "^(oom_kill|pgpg|pswp|pg.*fault).*"),
    "--collector.wifi.fixtures": ("x", ""),
}

# Boolean flags (kingpin: --NAME and --no-NAME): flag -> upstream default.
BOOL_FLAGS: dict[str, bool] = {
    "--web.disable-exporter-metrics": False,
    "--web.systemd-socket": False,
    "--collector.disable-defaults": False,
    "--collector.arp.netlink": True,
    "--collector.bcache.priorityStats": False,
    "--collector.cpu.guest": True,
    "--collector.cpu.info": False,
    "--collector.netclass.ignore-invalid-speed": False,
    "--collector.netclass.netlink": False,
    "--collector.netclass_rtnl.with-stats": False,
    "--collector.netdev.address-info": False,
    "--collector.netdev.enable-detailed-metrics": False,
    "--collector.netdev.netlink": True,
    "--collector.perf.disable-cache-profilers": False,
    "--collector.perf.disable-hardware-profilers": False,
    "--collector.perf.disable-software-profilers": False,
    "--collector.rapl.enable-zone-label": False,
    "--collector.stat.softirq": False,
    "--collector.ntp.server-is-local": False,
    "--collector.systemd.private": False,
    "--collector.systemd.enable-task-metrics": False,
    "--collector.systemd.enable-restarts-metrics": False,
    "--collector.systemd.enable-start-time-metrics": False,
}

# Flags whose default upstream applies in a kingpin PreAction (so that the deprecated
# alias can be told apart): the parser default is "unset" and the collector resolves it.
PRE_ACTION_FLAGS = [
    "--collector.diskstats.device-exclude",
    "--collector.filesystem.mount-points-exclude",
    "--collector.filesystem.fs-types-exclude",
    "--collector.systemd.unit-include",
    "--collector.systemd.unit-exclude",
]


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser(collector_specs())


def _dest(parser: argparse.ArgumentParser, flag: str) -> str:
    for action in parser._actions:
        if flag in action.option_strings:
            return action.dest
    raise AssertionError(f"parser has no {flag}")


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    return parser.parse_args(list(argv))


def test_left_out_are_upstream_collectors_off_by_default() -> None:
    for name in LEFT_OUT:
        assert name in UPSTREAM_COLLECTORS, name
        assert UPSTREAM_COLLECTORS[name] is False, f"{name} is on by default upstream; it must be implemented"


def test_collector_table_matches_upstream() -> None:
    ours = {spec.name: spec.enabled_by_default for spec in collector_specs()}
    expected = {name: state for name, state in UPSTREAM_COLLECTORS.items() if name not in LEFT_OUT}
    assert ours == expected


@pytest.mark.parametrize("name", sorted(UPSTREAM_COLLECTORS))
def test_collector_flags(parser: argparse.ArgumentParser, name: str) -> None:
    specs = collector_specs()
    if name in LEFT_OUT:
        with pytest.raises(SystemExit):
            _parse(parser, [f"--collector.{name}"])
        return
    default_on = [s.name for s in enabled_collectors(_parse(parser, []), specs)]
    assert (name in default_on) is UPSTREAM_COLLECTORS[name]
    on = [s.name for s in enabled_collectors(_parse(parser, [f"--collector.{name}"]), specs)]
    off = [s.name for s in enabled_collectors(_parse(parser, [f"--no-collector.{name}"]), specs)]
    assert name in on
    assert name not in off


def test_disable_defaults(parser: argparse.ArgumentParser) -> None:
    specs = collector_specs()
    args = _parse(parser, ["--collector.disable-defaults", "--collector.cpu"])
    assert [s.name for s in enabled_collectors(args, specs)] == ["cpu"]


@pytest.mark.parametrize("flag", sorted(VALUE_FLAGS))
def test_value_flag_default(parser: argparse.ArgumentParser, flag: str) -> None:
    value, default = VALUE_FLAGS[flag]
    dest = _dest(parser, flag)
    assert getattr(_parse(parser, []), dest) == default
    assert getattr(_parse(parser, [f"{flag}={value}"]), dest) != default


@pytest.mark.parametrize("flag", sorted(BOOL_FLAGS))
def test_bool_flag_default(parser: argparse.ArgumentParser, flag: str) -> None:
    dest = _dest(parser, flag)
    assert bool(getattr(_parse(parser, []), dest)) is BOOL_FLAGS[flag]
    assert getattr(_parse(parser, [flag]), dest) is True
    negated = "--no-" + flag[2:]
    if flag in ("--web.disable-exporter-metrics", "--web.systemd-socket", "--collector.disable-defaults"):
        return  # kingpin accepts --no-X here too, but nobody writes it; argparse has only --X.
    assert getattr(_parse(parser, [negated]), dest) is False


def test_listen_address_default(parser: argparse.ArgumentParser) -> None:
    assert _parse(parser, []).web_listen_address == [":9100"]
    assert _parse(parser, ["--web.listen-address=:1", "--web.listen-address=:2"]).web_listen_address == [":1", ":2"]


def test_pre_action_defaults(parser: argparse.ArgumentParser) -> None:
    args = _parse(parser, [])
    for flag in PRE_ACTION_FLAGS:
        assert getattr(args, _dest(parser, flag)) is None, flag
    context = NodeContext(args=args)
    disk = diskstats.build(context)
    assert disk.devices.ignore is not None and disk.devices.ignore.pattern == _go(DISKSTATS_EXCLUDE)
    assert disk.devices.accept is None
    fs = filesystem.build(context)
    assert fs.mount_points_exclude.pattern == _go(MOUNT_POINTS_EXCLUDE)
    assert fs.fs_types_exclude.pattern == _go(FS_TYPES_EXCLUDE)


def _go(pattern: str) -> str:
    return compile_go_regex(pattern, "test").pattern


def test_pre_action_flag_and_deprecated_alias_conflict(parser: argparse.ArgumentParser) -> None:
    args = _parse(parser, ["--collector.filesystem.mount-points-exclude=^/x",
                           "--collector.filesystem.ignored-mount-points=^/y"])
    with pytest.raises(ConfigError):
        filesystem.build(NodeContext(args=args))


@pytest.mark.parametrize("flag", LEFT_OUT_FLAGS)
def test_left_out_collector_options_rejected(parser: argparse.ArgumentParser, flag: str) -> None:
    with pytest.raises(SystemExit):
        _parse(parser, [flag])


@pytest.mark.parametrize("flag", ["--collector.imaginary", "--collector.imaginary.option=x"])
def test_not_provided_collector_is_a_clear_error(flag: str, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # every v1.7.0 Linux collector is provided: the mechanism is checked with an imaginary one
    monkeypatch.setitem(NOT_PROVIDED, "imaginary", "a test row")
    assert main([flag]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    name = flag.split(".")[1].split("=")[0]
    assert f"the {name} collector is not provided by this exporter" in err


def test_switching_off_a_not_provided_collector_is_accepted(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # parse only: --no-collector.NAME of a collector not provided must not be an error
    from exporters.node import main as node_main

    monkeypatch.setitem(NOT_PROVIDED, "imaginary", "a test row")
    argv = ["--no-collector.imaginary", "--no-collector.wifi", "--web.listen-address", "bad"]
    assert node_main.main(argv) == 1  # fails later, on the listen address, not on the flags
    assert "bad" in capsys.readouterr().err
