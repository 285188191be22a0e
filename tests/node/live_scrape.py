"""Run an exporter (ours or the reference) with some flags, scrape it once, keep some families.

For the collectors that talk to a daemon: both exporters are started the same way against
the same daemon and their series compared.
"""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Callable, Sequence

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, wait_http

Labels = tuple[tuple[str, str], ...]
# sample name -> (family type, labels -> value)
Scrape = dict[str, tuple[str, dict[Labels, float]]]
Popen = Callable[[Sequence[str]], "subprocess.Popen[bytes]"]


def host_popen(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def scrape(argv: Sequence[str], prefix: str, popen: Popen = host_popen) -> Scrape:
    """Start ``argv`` on a free loopback port, scrape /metrics once, stop it.

    Returns the samples whose name starts with ``prefix``, and node_scrape_collector_success.
    """
    port = free_port()
    proc = popen([*argv, f"--web.listen-address=127.0.0.1:{port}"])
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/metrics", proc=proc)
        except RuntimeError:
            assert proc.stdout is not None
            raise AssertionError(f"{argv[0]} exited: {proc.stdout.read().decode()[-2000:]}") from None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            text = response.read().decode()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    out: Scrape = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith(prefix) or family.name == "node_scrape_collector_success":
            for sample in family.samples:
                series = out.setdefault(sample.name, (family.type, {}))[1]
                series[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def get(found: Scrape, name: str, /, **labels: str) -> float:
    return found[name][1][tuple(sorted(labels.items()))]


def same_as_reference(flags: Sequence[str], prefix: str, collector: str, popen: Popen = host_popen) -> Scrape:
    """Scrape ours and node_exporter 1.9.0 with the same flags; their series must be equal.

    Returns ours, for the caller's own assertions on values.
    """
    import sys

    from tests.conftest import reference_binary

    ours = scrape([sys.executable, "-m", "exporters", "node", *flags], prefix, popen)
    theirs = scrape([reference_binary("node", "trixie"), *flags], prefix, popen)
    assert get(ours, "node_scrape_collector_success", collector=collector) == 1
    assert ours == theirs
    return ours
