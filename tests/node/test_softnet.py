"""softnet: /proc/net/softnet_stat across kernel column counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.node.collectors import softnet
from tests.node.collected import samples, types
from tests.node.fake_host import make_context, write

ZERO = "00000000"


def _line(values: list[str], width: int) -> str:
    return " ".join((values + [ZERO] * width)[:width])


@pytest.mark.parametrize(
    ("width", "expect"),
    [
        (9, dict(processed=0x10, dropped=1, time_squeezed=2, cpu_collision=8, received_rps=0, index=0)),  # 2.6.23
        (10, dict(received_rps=9, flow_limit_count=0)),  # 2.6.39
        (11, dict(flow_limit_count=10, backlog_len=0, index=0)),  # 4.18
        (13, dict(backlog_len=11, index=5)),  # 5.14: the CPU index column
    ],
)
def test_parse_softnet_widths(width: int, expect: dict[str, int]) -> None:
    values = ["00000010", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "5"]
    stat = softnet.parse_softnet(_line(values, width) + "\n")[0]
    for key, value in expect.items():
        assert getattr(stat, key) == value


def test_parse_softnet_old_kernel_index_is_line_number() -> None:
    text = _line(["1"], 11) + "\n" + _line(["2"], 11) + "\n"
    assert [s.index for s in softnet.parse_softnet(text)] == [0, 1]


@pytest.mark.parametrize("text", ["1 2 3\n", _line(["zz"], 9) + "\n", _line(["100000000"], 9) + "\n"])
def test_parse_softnet_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        softnet.parse_softnet(text)


def test_collect_uses_cpu_index(tmp_path: Path) -> None:
    # cpu 1 offline: the second line belongs to cpu 2
    write(tmp_path, "proc/net/softnet_stat", _line(["a"], 13) + "\n" + _line(["b"] + [ZERO] * 11 + ["2"], 13) + "\n")
    metrics = list(softnet.SoftnetCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    assert got[("node_softnet_processed_total", (("cpu", "2"),))] == 11
    assert got[("node_softnet_processed_total", (("cpu", "0"),))] == 10
    assert types(metrics)["node_softnet_backlog_len"] == "gauge"
    assert types(metrics)["node_softnet_dropped"] == "counter"
    assert len(got) == 14
