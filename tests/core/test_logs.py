"""Log lines as each upstream writes them: go-kit (node, postgres) and logrus (redis), both formats.

Start-up lines are compared with what the reference binaries actually write on stderr
(Debian 12's node_exporter 1.5.0 and redis_exporter 1.45.0 log as the target versions do).
"""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import time

import pytest

from exporters.core.logs import setup_logging
from tests.conftest import REPO, free_port, reference_binary

LOGFMT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def lines(name: str, style: str, fmt: str, emit: str) -> list[str]:
    stream = io.StringIO()
    logger = setup_logging(f"test_logs_{style}_{fmt}", "info", fmt, stream=stream, style=style)
    if emit == "warn":
        logger.warning("disk full", extra={"device": "sda 1", "path": "/x"})
    else:
        logger.info("", extra={"collector": "cpu", "_no_msg": True})
        logger.info("Excluded databases", extra={"databases": "[]", "_no_level": True})
    return stream.getvalue().splitlines()


def test_go_kit_logfmt() -> None:
    warn = lines("a", "go-kit", "logfmt", "warn")[0]
    assert warn.startswith("ts=") and ' caller=test_logs.py:' in warn
    assert warn.endswith(' level=warn msg="disk full" device="sda 1" path=/x')
    bare, no_level = lines("a", "go-kit", "logfmt", "bare")
    assert bare.endswith(" level=info collector=cpu") and "msg=" not in bare
    assert "level=" not in no_level and no_level.endswith('msg="Excluded databases" databases=[]')


def test_go_kit_json_has_sorted_keys() -> None:
    record = lines("b", "go-kit", "json", "warn")[0]
    data = json.loads(record)
    assert list(data) == sorted(data) == ["caller", "device", "level", "msg", "path", "ts"]
    assert data["level"] == "warn"


def test_logrus_text_and_json() -> None:
    text = lines("c", "logrus", "txt", "warn")[0]
    assert text.startswith('time="') and text.endswith('" level=warning msg="disk full" device="sda 1" path=/x')
    data = json.loads(lines("d", "logrus", "json", "warn")[0])
    assert list(data) == ["device", "level", "msg", "path", "time"] and data["level"] == "warning"


def run_briefly(argv: list[str], seconds: float = 1.5) -> list[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    time.sleep(seconds)
    proc.terminate()
    _, err = proc.communicate(timeout=20)
    return err.splitlines()


def shape(line: str, fmt: str) -> tuple[list[str], str]:
    """(keys in order, msg) of one line; values other than msg left out."""
    if fmt == "json":
        data = json.loads(line)
        return list(data), str(data.get("msg", ""))
    pairs = LOGFMT.findall(line)
    keys = [key for key, _ in pairs]
    msg = next((value.strip('"') for key, value in pairs if key == "msg"), "")
    return keys, msg


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_node_start_up_lines_as_node_exporter(fmt: str) -> None:
    flags = ["--collector.disable-defaults", "--collector.loadavg", f"--log.format={fmt}"]
    theirs = run_briefly([reference_binary("node"), f"--web.listen-address=127.0.0.1:{free_port()}", *flags])
    ours = run_briefly([sys.executable, "-m", "exporters.node", f"--web.listen-address=127.0.0.1:{free_port()}",
                        *flags])
    want = [shape(line, fmt) for line in theirs[:7]]
    got = [shape(line, fmt) for line in ours[:7]]
    assert [msg for _, msg in got] == [msg for _, msg in want]
    for (our_keys, msg), (their_keys, _) in zip(got, want, strict=True):
        assert sorted(our_keys) == sorted(their_keys), msg
        if fmt == "logfmt":
            assert our_keys == their_keys, msg


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ["txt", "json"])
def test_redis_start_up_lines_as_redis_exporter(fmt: str) -> None:
    theirs = run_briefly([reference_binary("redis"), f"-web.listen-address=127.0.0.1:{free_port()}",
                          f"-log-format={fmt}"])
    port = free_port()
    ours = run_briefly([sys.executable, "-m", "exporters.redis", f"-web.listen-address=127.0.0.1:{port}",
                        f"-log-format={fmt}"])
    parse = "json" if fmt == "json" else "logfmt"
    for mine, upstream in zip(ours[:2], theirs[:2], strict=True):
        assert shape(mine, parse)[0] == shape(upstream, parse)[0]
    assert shape(ours[0], parse)[1].startswith("Redis Metrics Exporter ")
    assert shape(ours[1], parse)[1] == f"Providing metrics at 127.0.0.1:{port}/metrics"
    assert "    build date: " in ours[0] and "    GOARCH: " in ours[0]
    logging.getLogger("exporters").handlers.clear()
