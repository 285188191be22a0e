"""qdisc: RTM_NEWQDISC decoding, upstream's results.json fixtures, filters."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from exporters.core.flags import ConfigError
from exporters.node.collectors import qdisc
from exporters.node.collectors._gojson import loads
from exporters.node.collectors._netlink import encode_attribute
from tests.node.collected import samples, value
from tests.node.fake_host import context


def message(ifindex: int, parent: int, attrs: bytes) -> bytes:
    return qdisc.TCMSG.pack(0, ifindex, 0x10000, parent, 1) + attrs


def stats2(bytes_: int, packets: int, queue: tuple[int, int, int, int, int]) -> bytes:
    basic = encode_attribute(qdisc.TCA_STATS_BASIC, struct.pack("=QI4x", bytes_, packets))
    queued = encode_attribute(qdisc.TCA_STATS_QUEUE, struct.pack("=5I", *queue))
    return encode_attribute(qdisc.TCA_STATS2, basic + queued)


def test_parse_qdisc_reads_stats2_then_the_compat_stats() -> None:
    compat = encode_attribute(qdisc.TCA_STATS, struct.pack("=QIIIIIII", 900, 9, 8, 7, 0, 0, 6, 5))
    payload = message(2, qdisc.TC_H_ROOT, encode_attribute(qdisc.TCA_KIND, b"htb\0")
                      + stats2(1000, 10, (1, 2, 3, 4, 5)) + compat)
    got = qdisc.parse_qdisc(payload, {2: "eth0"})
    assert got == qdisc.Qdisc(iface_name="eth0", parent=0, handle=0x10000, kind="htb", bytes=900, packets=9,
                              drops=8, requeues=4, overlimits=7, qlen=6, backlog=5)
    only2 = qdisc.parse_qdisc(message(3, 0x10001, stats2(1, 2, (3, 4, 5, 6, 7))), {})
    assert (only2.iface_name, only2.parent, only2.bytes, only2.requeues) == ("", 0x10001, 1, 6)
    short = qdisc.parse_qdisc(message(2, 0, encode_attribute(qdisc.TCA_STATS, b"\1" * 12)), {})
    assert short.bytes == 0  # a structure shorter than its layout is ignored


def test_malformed_messages_are_skipped() -> None:
    good = message(1, qdisc.TC_H_ROOT, encode_attribute(qdisc.TCA_KIND, b"noqueue\0"))
    bad_attr = message(1, 0, struct.pack("=HH", 99, 1))
    assert [q.kind for q in qdisc.parse_qdiscs([b"\0" * 10, bad_attr, good], {})] == ["noqueue"]


def test_parse_fixture_like_go() -> None:
    document = loads(json.dumps([
        {"IfaceName": "eth0", "kind": "fq", "BYTES": 5, "Bytes": 7, "Packets": None, "Extra": {"x": 1}},
        None,
    ]).encode())
    first, second = qdisc.parse_fixture(document)
    assert (first.iface_name, first.kind, first.bytes, first.packets) == ("eth0", "fq", 7, 0)
    assert second == qdisc.Qdisc()
    assert qdisc.parse_fixture(loads(b"null")) == []


@pytest.mark.parametrize("text", [
    b'[{"Packets": 4294967296}]', b'[{"Bytes": -1}]', b'[{"Bytes": 1.0}]', b'[{"Kind": 3}]',
    b'[{"Bytes": true}]', b'{"Bytes": 1}', b'[1]', b'[{"Bytes": NaN}]', b"[",
])
def test_parse_fixture_refuses_what_go_refuses(text: bytes) -> None:
    with pytest.raises(ValueError):
        qdisc.parse_fixture(loads(text))


def test_collect_fixtures_filters_and_skips_children(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps([
        {"IfaceName": "eth0", "Kind": "mq", "Bytes": 10, "Qlen": 2},
        {"IfaceName": "eth0", "Parent": 65537, "Kind": "fq_codel", "Bytes": 5},
        {"IfaceName": "lo", "Kind": "noqueue"},
        {"IfaceName": "eth1", "Kind": "htb", "Backlog": 3},
    ]))
    got = samples(qdisc.factory(context(tmp_path, f"--collector.qdisc.fixtures={tmp_path}",
                                        "--collector.qdisc.device-exclude=^lo$")).collect())
    assert value(got, "node_qdisc_bytes_total", device="eth0", kind="mq") == 10
    assert value(got, "node_qdisc_current_queue_length", device="eth0", kind="mq") == 2
    assert value(got, "node_qdisc_backlog", device="eth1", kind="htb") == 3
    assert {dict(labels)["kind"] for _, labels in got} == {"mq", "htb"}
    old = samples(qdisc.factory(context(tmp_path, f"--collector.qdisc.fixtures={tmp_path}",
                                        "--collector.qdisk.device-include=^eth1$")).collect())
    assert {dict(labels)["device"] for _, labels in old} == {"eth1"}  # the deprecated spelling still works


@pytest.mark.parametrize("flags", [
    ("--collector.qdisc.device-include=a", "--collector.qdisc.device-exclude=b"),
    ("--collector.qdisc.device-include=a", "--collector.qdisk.device-include=b"),
])
def test_conflicting_filters_stop_the_start(tmp_path: Path, flags: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        qdisc.factory(context(tmp_path, *flags))


def test_missing_fixture_fails_the_scrape(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(qdisc.factory(context(tmp_path, f"--collector.qdisc.fixtures={tmp_path}/none")).collect())


@pytest.mark.timeout(10)
def test_real_kernel_dump() -> None:
    assert all(q.kind for q in qdisc.read_qdiscs())
