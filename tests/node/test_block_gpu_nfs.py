"""drbd, drm and mountstats: parser tables with malformed input, collectors on small trees."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import drbd, drm, mountstats
from tests.node.collected import collect_partial, samples, types, value
from tests.node.fake_host import make_context, write, write_tree

DRBD = """version: 8.4.11 (api:1/proto:86-101)
 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----
    ns:2 nr:12 dw:1 oos:8 unknown:5
 1: cs:StandAlone ro:Secondary ds:Diskless/DUnknown
"""


def test_parse_drbd() -> None:
    got, error = drbd.parse_drbd(DRBD)
    assert error is None
    as_tuples = {(s.metric, s.device, s.node): s.value for s in got}
    assert as_tuples[("ns", "drbd0", "")] == 2048  # KiB -> bytes
    assert as_tuples[("nr", "drbd0", "")] == 12  # nr is already in bytes upstream
    assert as_tuples[("cs", "drbd0", "")] == 1 and as_tuples[("cs", "drbd1", "")] == 0
    assert as_tuples[("ro", "drbd0", "remote")] == 0 and as_tuples[("ds", "drbd0", "remote")] == 1
    # a role without the peer's half: local only (upstream indexes past the end and panics)
    assert ("ro", "drbd1", "local") in as_tuples and ("ro", "drbd1", "remote") not in as_tuples


def test_parse_drbd_bad_number_keeps_what_came_before() -> None:
    got, error = drbd.parse_drbd(" 0: ns:1 nr:x dw:2\n")
    assert [s.metric for s in got] == ["ns"] and isinstance(error, ValueError)
    # a key before any device belongs to "unknown"; an empty value is not a number
    got, error = drbd.parse_drbd("ns:1 99999999999999999999999: nr:\n")
    assert [(s.metric, s.device) for s in got] == [("ns", "unknown")] and error is not None


def test_drbd_collect(tmp_path: Path) -> None:
    collector = drbd.DrbdCollector(make_context(tmp_path))
    with pytest.raises(NoDataError):
        list(collector.collect())
    write(tmp_path, "proc/drbd", DRBD)
    metrics = list(collector.collect())
    got = samples(metrics)
    assert value(got, "node_drbd_node_role_is_primary", device="drbd0", node="local") == 1
    assert types(metrics)["node_drbd_network_sent_bytes"] == "counter"
    assert types(metrics)["node_drbd_out_of_sync_bytes"] == "gauge"
    write(tmp_path, "proc/drbd", " 0: ns:1 nr:x\n")
    partial, err = collect_partial(collector)
    assert err is not None
    assert samples(partial) == {("node_drbd_network_sent_bytes_total", (("device", "drbd0"),)): 1024}


AMD = {
    "sys/class/drm/card0/device/uevent": "DRIVER=amdgpu\nPCI_ID=1002:687F\n",
    "sys/class/drm/card0/device/gpu_busy_percent": "0x10\n",
    "sys/class/drm/card0/device/mem_info_vram_used": "garbage\n",
    "sys/class/drm/card0/device/mem_info_vram_vendor": "samsung\n",
    "sys/class/drm/card1/device/uevent": "DRIVER=i915\n",
    "sys/class/drm/card0-DP-1/uevent": "DEVTYPE=drm_connector\n",
    "sys/class/drm/card10/device/uevent": "DRIVER=amdgpu\n",  # card[0-9]: one digit only, as upstream
}


def test_drm_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, AMD)
    metrics = list(drm.DrmCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    assert value(got, "node_drm_gpu_busy_percent", card="card0") == 16
    assert value(got, "node_drm_memory_vram_used_bytes", card="card0") == 0  # unparsable: 0, not a crash
    assert value(got, "node_drm_card_info", card="card0", memory_vendor="samsung", power_performance_level="",
                 unique_id="", vendor="amd") == 1
    # a card of another driver is listed with zeros, as upstream does
    assert value(got, "node_drm_memory_gtt_size_bytes", card="card1") == 0
    assert {dict(labels)["card"] for _, labels in got} == {"card0", "card1"}


def test_drm_uevent_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path, AMD)
    real = drm.sys_read_file

    def refusing(path: str, errors: str = "replace") -> str:
        if path.endswith(os.path.join("card1", "device", "uevent")):
            raise OSError(errno.ENODATA, "No data available")
        return real(path, errors)

    monkeypatch.setattr(drm, "sys_read_file", refusing)
    got = samples(drm.DrmCollector(make_context(tmp_path)).collect())
    assert {dict(labels)["card"] for _, labels in got} == {"card0"}
    (tmp_path / "sys/class/drm/card0/device/uevent").unlink()
    with pytest.raises(FileNotFoundError):
        list(drm.DrmCollector(make_context(tmp_path)).collect())


NFS = """device rootfs mounted on / with fstype rootfs
device srv:/x mounted on /mnt/x with fstype nfs4 statvers=1.1
\topts:\trw,vers=4.2,addr=1.2.3.4
\tage:\t100
\tevents:\t""" + " ".join(str(i) for i in range(27)) + """
\tbytes:\t1 2 3 4 5 6 7 8
\txprt:\ttcp 0 1 2 3 9007199254740995 5 6 7 8 9 10 11 12
\tper-op statistics
\t        NULL: 1 1 0 44 24 0 0 0 0
\t        READ: 4 4 0 100 200 18014398509481985 2000 3000

device srv:/udp mounted on /mnt/u with fstype nfs statvers=1.1
\tage:\t5
\txprt:\tudp 0 0 211 211 0 211 0 2 0 0
\tper-op statistics

device srv:/x mounted on /mnt/again with fstype nfs4 statvers=1.1
\txprt:\ttcp 0 1 2 3 4 5 6 7 8 9 10 11 12
\tper-op statistics

"""
MOUNTINFO = """1 0 0:1 / / rw - rootfs rootfs rw
2 1 0:2 / /mnt/x rw shared:1 - nfs4 srv:/x rw,vers=4.2,addr=1.2.3.4
3 1 0:3 / /mnt/u rw - nfs srv:/udp rw,addr=5.6.7.8=9
4 1 0:2 / /mnt/again rw - nfs4 srv:/x rw,addr=1.2.3.4
"""


def test_parse_mountstats() -> None:
    root, x, udp, again = mountstats.parse_mountstats(NFS)
    assert root.stats is None
    assert x.stats is not None and x.stats.age == 100 and x.stats.bytes["write_pages"] == 8
    assert x.stats.events["pnfs_write"] == 26 and x.stats.protocol == "tcp"
    assert x.stats.transport["cumulative_pending_queue"] == 12
    assert [op for op, _ in x.stats.operations] == ["NULL", "READ"]
    assert udp.stats is not None and udp.stats.transport["sends"] == 211 and udp.stats.transport["connect"] == 0
    assert udp.stats.transport["maximum_rpc_slots_used"] == 2
    assert again.mount_point == "/mnt/again"


@pytest.mark.parametrize(
    ("version", "xprt", "field", "expect"),
    [
        ("1.0", "tcp 1 2 3 4 5 6 7 8 9 10", "cumulative_backlog", 10),
        ("1.0", "udp 1 2 3 4 5 6 7", "cumulative_backlog", 7),
        ("1.1", "rdma " + " ".join(str(i) for i in range(1, 21)), "cumulative_backlog", 10),
        ("1.1", "rdma " + " ".join(str(i) for i in range(1, 21)), "maximum_rpc_slots_used", 0),
    ],
)
def test_parse_transport(version: str, xprt: str, field: str, expect: int) -> None:
    assert mountstats.parse_transport(xprt.split(), version)[1][field] == expect


@pytest.mark.parametrize(
    ("version", "xprt"),
    [("1.1", "tcp 1 2"), ("1.0", "rdma " + "1 " * 20), ("1.2", "tcp " + "1 " * 13), ("1.1", "sctp 1 2 3"),
     ("1.1", "rdma " + "1 " * 32), ("1.1", "tcp " + "x " * 13)],
)
def test_parse_transport_malformed(version: str, xprt: str) -> None:
    with pytest.raises(ValueError):
        mountstats.parse_transport(xprt.split(), version)


@pytest.mark.parametrize(
    "text",
    [
        "device a mounted on\n",
        "device a mounted at /x with fstype nfs\n",
        "device a mounted on /x with fstype ext4 statvers=1.1\n",  # statistics for a non-NFS mount
        "device a mounted on /x with fstype nfs statvers=1.1\n\tage:\n",
        "device a mounted on /x with fstype nfs statvers=1.1\n\tage:\t99999999999\n",  # > 292 years
        "device a mounted on /x with fstype nfs statvers=1.1\n\tbytes:\t1 2\n",
        "device a mounted on /x with fstype nfs statvers=1.1\n\tevents:\t1\n",
        "device a mounted on /x with fstype nfs statvers=1.1\n\txprt:\ttcp\n",
        "device a mounted on /x with fstype nfs statvers=1.1\n\tper-op statistics\n\tNULL: 1 2\n",
        "device a mounted on /x with fstype nfs statvers=1.1\n\tper-op statistics\n"
        + "\tOP: 1 1 1 1 1 1 1 1\n" * (mountstats.MAX_OPERATIONS + 1),
    ],
)
def test_parse_mountstats_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        mountstats.parse_mountstats(text)


def test_parse_mountinfo_addresses() -> None:
    assert mountstats.parse_mountinfo_addresses(MOUNTINFO) == ["", "1.2.3.4", "5.6.7.8", "1.2.3.4"]
    for bad in ("1 0 0:1 / / rw rootfs rootfs rw\n", "x 0 0:1 / / rw - a b c\n"):
        with pytest.raises(ValueError):
            mountstats.parse_mountinfo_addresses(bad)


def test_mountstats_collect(tmp_path: Path) -> None:
    write(tmp_path, "proc/self/mountstats", NFS)
    write(tmp_path, "proc/self/mountinfo", MOUNTINFO)
    metrics = list(mountstats.MountStatsCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    labels = {"export": "srv:/x", "protocol": "tcp", "mountaddr": "1.2.3.4"}
    assert value(got, "node_mountstats_nfs_transport_idle_time_seconds", **labels) == 3  # modulo 2^53
    assert value(got, "node_mountstats_nfs_operations_queue_time_seconds_total", operation="READ", **labels) == 0.001
    assert value(got, "node_mountstats_nfs_event_pnfs_write_total", **labels) == 26
    assert value(got, "node_mountstats_nfs_age_seconds_total", export="srv:/udp", protocol="udp",
                 mountaddr="5.6.7.8") == 5
    # /mnt/again repeats export, protocol and address: reported once
    assert len([k for k in got if k[0] == "node_mountstats_nfs_age_seconds_total"]) == 2
    assert types(metrics)["node_mountstats_nfs_transport_maximum_rpc_slots"] == "gauge"
