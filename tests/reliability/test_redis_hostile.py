"""Redis exporter against hostile callers and huge or odd data (issue: hostile callers and huge data).

Fake servers at the socket boundary record what the exporter sends (AUTH) and send what real
servers do not (endless replies); a private redis-server holds a large value and binary key
names. Every case is bounded in count and time, on loopback only.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from exporters.redis.context import LogOnce
from tests.conftest import RunningExporter, free_port
from tests.redis.fake_server import OK, FakeRedis, array, bulk
from tests.reliability.conftest import PrivateRedis, record, require_exporter, scrape
from tests.reliability.launch import launch

pytestmark = pytest.mark.timeout(120)
SECRET = "Hostile-Redis-Secret-7731"
INFO = "# Server\r\nredis_version:7.0.11\r\nredis_mode:standalone\r\n# Clients\r\nconnected_clients:3\r\n"


def fake(extra: dict[str, bytes] | None = None) -> FakeRedis:
    """A server that answers AUTH, INFO and little else."""
    return FakeRedis({"AUTH": OK, "CLIENT SETNAME": OK, "INFO": bulk(INFO), **(extra or {})})


def auths(server: FakeRedis) -> list[list[bytes]]:
    return [c for c in server.commands if c[0].upper() == b"AUTH"]


def start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> RunningExporter:
    require_exporter("redis")
    return launch("redis", list(args), tmp_path, env=env)


def peak_rss_kib(exporter: RunningExporter) -> int:
    with open(f"/proc/{exporter.proc.pid}/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1])


def test_credentials_only_reach_named_targets(tmp_path: Path) -> None:
    with fake() as home, fake() as other:
        exporter = start(tmp_path, "-redis.addr", home.url, env={"REDIS_PASSWORD": SECRET})
        try:
            named = scrape(exporter.url + "/metrics")
            caller = scrape(exporter.url + f"/scrape?target=127.0.0.1:{other.port}")
            home_again = scrape(exporter.url + f"/scrape?target=localhost:{home.port}")
            keys = requests.get(exporter.url + "/scrape", params={"target": home.url, "check-keys": "*"}, timeout=10)
            unix = requests.get(exporter.url + "/scrape", params={"target": "unix:///run/redis.sock"}, timeout=10)
            closed = scrape(exporter.url + f"/scrape?target=127.0.0.1:{free_port()}")
            log = exporter.log()
        finally:
            exporter.stop()
    assert named.value("redis_up") == 1 and home_again.value("redis_up") == 1
    assert [c[1].decode() for c in auths(home)] == [SECRET, SECRET]
    # a target the caller chose is scraped, without the configured password
    assert caller.value("redis_up") == 1 and auths(other) == []
    assert "-allowed-targets" in log and SECRET not in log
    # per-request key checks would read the configured server's values: refused, naming the flag
    assert keys.status_code == 403 and "-allow-scrape-key-checks" in keys.text
    assert not [c for c in home.commands if c[0].upper() == b"SCAN"]
    assert unix.status_code == 403 and "-allowed-targets" in unix.text
    # no port-scan oracle: a refused connection to a caller's target is not described
    errors = [labels["err"] for name, labels, _ in closed.samples() if name == "redis_exporter_last_scrape_error"]
    assert closed.value("redis_up") == 0 and errors and "refused" not in errors[0]
    record("redis credentials to an unnamed /scrape target", auth_commands_received=len(auths(other)))


def test_allowlist_and_password_file_name_the_targets(tmp_path: Path) -> None:
    with fake() as listed, fake() as unlisted, fake() as filed:
        exporter = start(tmp_path, "-redis.addr", "", "-allowed-targets", f"127.0.0.1:{listed.port}",
                         "-allow-scrape-key-checks", env={"REDIS_PASSWORD": SECRET})
        try:
            allowed = scrape(exporter.url + f"/scrape?target=redis://localhost:{listed.port}&check-single-keys=k")
            refused = scrape(exporter.url + f"/scrape?target=127.0.0.1:{unlisted.port}")
        finally:
            exporter.stop()
        passwords = tmp_path / "passwords.json"
        passwords.write_text(f'{{"redis://127.0.0.1:{filed.port}": "from-the-file"}}')
        exporter = start(tmp_path, "-redis.addr", "", "-redis.password-file", str(passwords))
        try:
            from_file = scrape(exporter.url + f"/scrape?target=127.0.0.1:{filed.port}")
            other = scrape(exporter.url + f"/scrape?target=127.0.0.1:{unlisted.port}")
        finally:
            exporter.stop()
    assert allowed.value("redis_up") == 1 and [c[1].decode() for c in auths(listed)] == [SECRET]
    assert [b"TYPE", b"k"] in listed.commands  # key checks on /scrape: allowed by the flag
    assert refused.status == 403
    assert from_file.value("redis_up") == 1 and [c[1].decode() for c in auths(filed)] == ["from-the-file"]
    assert other.value("redis_up") == 1 and auths(unlisted) == []


def test_unix_socket_targets_behind_the_allowlist(tmp_path: Path) -> None:
    sock = tmp_path / "redis.sock"
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    proc = subprocess.Popen([binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < end:
            time.sleep(0.05)
        exporter = start(tmp_path, "-redis.addr", "", "-allowed-targets", f"unix:{tmp_path}/*")
        try:
            served = scrape(exporter.url + f"/scrape?target=unix://{sock}")
            outside = requests.get(exporter.url + "/scrape", params={"target": f"unix://{tmp_path}/../x.sock"},
                                   timeout=10)
        finally:
            exporter.stop()
    finally:
        proc.kill()
        proc.wait(10)
    assert served.value("redis_up") == 1, served.text[-2000:]
    assert outside.status_code == 403


def test_huge_replies_are_cut_at_the_limits(tmp_path: Path) -> None:
    # a bulk string of 3 GB streaming in; an array whose elements stream past the reply limit;
    # SCAN replies that never end, each small, together past the per-scrape limit
    elements = b"*300000\r\n" + b"$10\r\n0123456789\r\n" * 300000
    scan = array(bulk("1"), array(*[bulk(f"key:{i:020d}") for i in range(20000)]))
    with fake({"INFO": b"$3000000000\r\n" + b"x" * (2 << 20)}) as bulk_peer, fake({"INFO": elements}) as array_peer, \
            fake({"SCAN": scan, "SELECT": OK}) as scan_peer:
        exporter = start(tmp_path, "-redis.addr", "", "-max-reply-bytes", str(1 << 20),
                         "-max-scrape-bytes", str(4 << 20), "-count-keys", "key:*")
        try:
            before = peak_rss_kib(exporter)
            results = [scrape(exporter.url + f"/scrape?target=127.0.0.1:{peer.port}", timeout=10)
                       for peer in (bulk_peer, array_peer, scan_peer)]
            after = peak_rss_kib(exporter)
            log = exporter.log()
        finally:
            exporter.stop()
    big_bulk, big_array, flood = results
    for result in (big_bulk, big_array):
        assert result.status == 200 and result.seconds < 5
        assert result.value("redis_up") == 0
        assert result.value("redis_exporter_last_scrape_limit_reached", limit="reply_bytes") == 1
    assert "-max-reply-bytes" in log
    assert flood.value("redis_exporter_last_scrape_limit_reached", limit="scrape_bytes") == 1
    assert flood.value("redis_keys_count") is None and flood.seconds < 5
    assert after - before < 64 * 1024, f"peak RSS grew by {(after - before) // 1024} MiB"
    record("redis hostile replies", largest_reply_accepted_bytes=1 << 20, peak_rss_growth_mib=(after - before) // 1024,
           seconds=max(r.seconds for r in results))


def test_large_value_and_binary_key_names(tmp_path: Path, private_redis: PrivateRedis) -> None:
    client = private_redis.client()
    size = 64 << 20  # four times -max-reply-bytes: reading it whole would fail the scrape
    client.setrange("big", size - 1, "x")
    client.set(b"bin:a\x00b", b"v\x00l")
    client.set(b"bin:\xff\xfe", b"x")
    client.set(b"bin:ok", b"7")
    exporter = start(tmp_path, "-redis.addr", private_redis.addr, "-check-single-keys", "big",
                     "-check-keys", "bin:*")
    try:
        before = peak_rss_kib(exporter)
        result = scrape(exporter.url + "/metrics", timeout=10)
        after = peak_rss_kib(exporter)
        raw = requests.get(exporter.url + "/metrics", timeout=10).content
    finally:
        exporter.stop()
    assert result.value("redis_up") == 1
    assert result.value("redis_key_size", key="big") == size
    assert result.value("redis_key_value_as_string", key="big") is None
    assert result.value("redis_exporter_last_scrape_limit_reached", limit="key_value_bytes") == 1
    assert after - before < 32 * 1024, f"peak RSS grew by {(after - before) // 1024} MiB"
    # binary names are checked under their exact bytes and exported escaped, never with a raw NUL
    assert b"\x00" not in raw
    assert result.value("redis_key_size", key="bin:\\xff\\xfe") == 1
    assert result.value("redis_key_size", key="bin:a\\x00b") == 3
    assert result.value("redis_key_value_as_string", key="bin:a\\x00b", val="v\\x00l") == 1
    assert result.value("redis_key_value", key="bin:ok") == 7
    record("redis 64 MiB key", scrape_seconds=result.seconds, peak_rss_growth_mib=(after - before) // 1024)


def test_log_once_state_is_bounded() -> None:
    once = LogOnce(capacity=100)
    assert all(once.first(f"redis://10.0.{i // 256}.{i % 256}:6379", "credentials") for i in range(6000))
    assert len(once) == 100
    assert not once.first("redis://10.0.23.111:6379", "credentials")  # the most recent are still known

