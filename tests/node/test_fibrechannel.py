"""fibrechannel collector: host attributes, hexadecimal counters, unimplemented counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors.fibrechannel import ATTRIBUTES, FibrechannelCollector
from tests.node.collected import names, samples, value
from tests.node.fake_host import make_context, write_tree

HOST = "sys/class/fc_host/host0"


def tree() -> dict[str, str]:
    files = {f"{HOST}/{attr}": f"{attr}-value\n" for attr, _ in ATTRIBUTES}
    files.update({
        f"{HOST}/node_name": "0x2000000000000001\n",
        f"{HOST}/port_name": "0x1000000000000001\n",
        f"{HOST}/port_id": "0x0a0b0c\n",
        f"{HOST}/fabric_name": "0x0\n",
        f"{HOST}/statistics/rx_frames": "0x10\n",
        f"{HOST}/statistics/tx_words": "42\n",
        f"{HOST}/statistics/nos_count": "0xffffffffffffffff\n",
        f"{HOST}/statistics/lip_count": "not a number, not read\n",
        f"{HOST}/statistics/reset_statistics": "",
    })
    return files


def test_collect(tmp_path: Path) -> None:
    write_tree(tmp_path, tree())
    found = samples(FibrechannelCollector(make_context(tmp_path)).collect())
    info = [dict(labels) for name, labels in found if name == "node_fibrechannel_info"]
    assert info == [{
        "fc_host": "host0", "speed": "speed-value", "port_state": "port_state-value",
        "port_type": "port_type-value", "port_id": "0a0b0c", "port_name": "1000000000000001", "fabric_name": "0",
        "symbolic_name": "symbolic_name-value", "supported_classes": "supported_classes-value",
        "supported_speeds": "supported_speeds-value", "dev_loss_tmo": "dev_loss_tmo-value",
    }]
    assert value(found, "node_fibrechannel_rx_frames_total", fc_host="host0") == 16
    assert value(found, "node_fibrechannel_tx_words_total", fc_host="host0") == 42
    assert value(found, "node_fibrechannel_error_frames_total", fc_host="host0") == 0  # file absent
    # all ones means the HBA does not implement the counter: not exported
    assert "node_fibrechannel_nos_total" not in names(found)


def test_missing_attribute_is_an_error(tmp_path: Path) -> None:
    files = tree()
    del files[f"{HOST}/speed"]
    write_tree(tmp_path, files)
    with pytest.raises(FileNotFoundError):
        list(FibrechannelCollector(make_context(tmp_path)).collect())


def test_bad_counter_is_an_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {**tree(), f"{HOST}/statistics/rx_words": "0xZZ\n"})
    with pytest.raises(ValueError):
        list(FibrechannelCollector(make_context(tmp_path)).collect())


def test_no_fc_class_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(FibrechannelCollector(make_context(tmp_path)).collect())
