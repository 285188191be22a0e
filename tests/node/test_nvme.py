"""nvme collector: node_nvme_info from /sys/class/nvme."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors.nvme import NvmeCollector
from tests.node.collected import samples, value
from tests.node.fake_host import make_context, write_tree


def test_collect_trims_values(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "sys/class/nvme/nvme0/firmware_rev": "1B2QEXM7\n",
        "sys/class/nvme/nvme0/model": "Example SSD 1TB                          \n",
        "sys/class/nvme/nvme0/serial": "  S4EWNX0R123  \n",
        "sys/class/nvme/nvme0/state": "live\n",
    })
    found = samples(NvmeCollector(make_context(tmp_path)).collect())
    assert value(found, "node_nvme_info", device="nvme0", firmware_revision="1B2QEXM7",
                 model="Example SSD 1TB", serial="S4EWNX0R123", state="live") == 1


def test_a_missing_attribute_is_an_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"sys/class/nvme/nvme0/model": "x\n"})
    with pytest.raises(FileNotFoundError):
        list(NvmeCollector(make_context(tmp_path)).collect())


def test_no_nvme_class_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        list(NvmeCollector(make_context(tmp_path)).collect())
