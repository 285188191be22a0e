"""dmi collector: labels from /sys/class/dmi/id, read once at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.collector import NoDataError
from exporters.node.collectors import dmi
from exporters.node.collectors.dmi import read_dmi
from tests.node.collected import samples
from tests.node.fake_host import make_context, write_tree

ID = "sys/class/dmi/id"


def test_read_dmi(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        f"{ID}/sys_vendor": "Example Corp.\n",
        f"{ID}/product_name": "Box 9000\n",
        f"{ID}/product_version": "\n",
        f"{ID}/board_vendor": b"Ex\xff\xfeample\n",
        f"{ID}/chassis_type": "23\n",  # read by procfs, not a label
        f"{ID}/modalias": "dmi:bvnX:\n",
        f"{ID}/uevent": "MODALIAS=dmi:bvnX:\n",
    })
    (tmp_path / ID / "power").mkdir()
    assert read_dmi(str(tmp_path / ID)) == {
        "system_vendor": "Example Corp.",
        "product_name": "Box 9000",
        "product_version": "",
        "board_vendor": "Ex\ufffdample",  # one replacement per run of invalid bytes, as Go's ToValidUTF8
    }


def test_collect_is_fixed_at_start(tmp_path: Path) -> None:
    write_tree(tmp_path, {f"{ID}/bios_vendor": "Vendor\n", f"{ID}/bios_date": "01/02/2023\n"})
    collector = dmi.build(make_context(tmp_path))
    (tmp_path / ID / "bios_vendor").write_text("Changed\n")
    found = samples(collector.collect())
    assert found == {("node_dmi_info", (("bios_date", "01/02/2023"), ("bios_vendor", "Vendor"))): 1.0}


def test_no_dmi_is_no_data(tmp_path: Path) -> None:
    collector = dmi.build(make_context(tmp_path))
    with pytest.raises(NoDataError):
        list(collector.collect())
