"""infiniband: device info, port state and rate, counters (4-byte words, N/A (no PMA))."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import infiniband
from tests.node.collected import samples, types
from tests.node.fake_host import make_context, write

IB = "sys/class/infiniband"


@pytest.mark.parametrize(("text", "value"), [("4: ACTIVE\n", 4), ("5: LinkUp", 5), (" 1 : DOWN", 1)])
def test_parse_state(text: str, value: int) -> None:
    assert infiniband.parse_state(text) == value


@pytest.mark.parametrize("text", ["ACTIVE", "4: A: B", "x: DOWN", "-1: X"])
def test_parse_state_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        infiniband.parse_state(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("40 Gb/sec (4X QDR)\n", 5000000000), ("2.5 Gb/sec (1X SDR)", 312500000), ("100 Gb/sec", 12500000000),
     ("0.3 Gb/sec", 37500001)],  # through a float32, as procfs parses it
)
def test_parse_rate(text: str, value: int) -> None:
    assert infiniband.parse_rate(text) == value


@pytest.mark.parametrize("text", ["40", "fast Gb/sec"])
def test_parse_rate_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        infiniband.parse_rate(text)


def test_parse_counters() -> None:
    counters = infiniband.parse_counters(
        {"port_rcv_data": "10", "link_downed": "N/A (no PMA)", "symbol_error": "0x2", "other": "x"},
        infiniband.COUNTERS,
    )
    assert counters == {"port_data_received_bytes_total": 40, "symbol_error_total": 2}
    with pytest.raises(ValueError):
        infiniband.parse_counters({"link_downed": "garbage"}, infiniband.COUNTERS)


def _device(tmp_path: Path, name: str = "mlx4_0") -> None:
    write(tmp_path, f"{IB}/{name}/fw_ver", "2.42.5000\n")
    write(tmp_path, f"{IB}/{name}/board_id", "MT_1090120019\n")
    port = f"{IB}/{name}/ports/1"
    write(tmp_path, f"{port}/state", "4: ACTIVE\n")
    write(tmp_path, f"{port}/phys_state", "5: LinkUp\n")
    write(tmp_path, f"{port}/rate", "40 Gb/sec (4X QDR)\n")
    write(tmp_path, f"{port}/counters/port_xmit_data", "100\n")
    write(tmp_path, f"{port}/counters/link_downed", "1\n")
    write(tmp_path, f"{port}/counters_ext/port_rcv_data_64", "7\n")


def test_collect(tmp_path: Path) -> None:
    _device(tmp_path)
    metrics = list(infiniband.InfinibandCollector(make_context(tmp_path)).collect())
    got = samples(metrics)
    port = (("device", "mlx4_0"), ("port", "1"))
    info = (("board_id", "MT_1090120019"), ("device", "mlx4_0"), ("firmware_version", "2.42.5000"),
            ("hca_type", ""))
    assert got[("node_infiniband_info", info)] == 1
    assert got[("node_infiniband_state_id", port)] == 4
    assert got[("node_infiniband_rate_bytes_per_second", port)] == 5e9
    assert got[("node_infiniband_port_data_transmitted_bytes_total", port)] == 400
    assert got[("node_infiniband_legacy_data_received_bytes_total", port)] == 28
    assert got[("node_infiniband_link_downed_total", port)] == 1
    assert ("node_infiniband_symbol_error_total", port) not in got
    assert types(metrics)["node_infiniband_link_downed"] == "counter"


def test_mlx5_needs_hw_counters(tmp_path: Path) -> None:
    _device(tmp_path, "mlx5_0")
    with pytest.raises(NoDataError, match="hw_counters"):
        list(infiniband.InfinibandCollector(make_context(tmp_path)).collect())
    (tmp_path / f"{IB}/mlx5_0/ports/1/hw_counters").mkdir()
    assert samples(infiniband.InfinibandCollector(make_context(tmp_path)).collect())


def test_missing_files_are_no_data_and_bad_values_fail(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(infiniband.InfinibandCollector(make_context(tmp_path)).collect())
    (tmp_path / f"{IB}/hfi1_0").mkdir(parents=True)
    with pytest.raises(NoDataError, match="fw_ver"):
        list(infiniband.InfinibandCollector(make_context(tmp_path)).collect())
    (tmp_path / f"{IB}/hfi1_0").rmdir()
    _device(tmp_path)
    write(tmp_path, f"{IB}/mlx4_0/ports/1/state", "ACTIVE\n")
    with pytest.raises(ValueError):
        list(infiniband.InfinibandCollector(make_context(tmp_path)).collect())
