"""A scraping client that behaves like Prometheus on the wire.

Prometheus keeps one connection per target open, asks for OpenMetrics first and the text
format second, accepts gzip, and tells the target its scrape timeout. The same headers are
sent to the Go exporter and to ours.
"""

from __future__ import annotations

import gzip
import http.client
import time
from dataclasses import dataclass

# What Prometheus 2.42 sends (scrape/scrape.go, acceptHeader and the timeout header).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@dataclass
class ScrapeResult:
    ok: bool
    status: int
    seconds: float
    wire_bytes: int
    body_bytes: int
    content_type: str
    error: str = ""
    body: bytes = b""


class Scraper:
    """Scrapes one URL over a kept-alive connection, reconnecting after an error."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str = "/metrics",
        timeout: float = 10.0,
        gzip_encoding: bool = True,
        openmetrics: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.timeout = timeout
        self.headers = {
            "Accept": PROMETHEUS_ACCEPT if openmetrics else "text/plain;version=0.0.4",
            "User-Agent": "Prometheus/2.42.0",
            "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout:g}",
        }
        if gzip_encoding:
            self.headers["Accept-Encoding"] = "gzip"
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def scrape(self, keep_body: bool = False, decode: bool = True) -> ScrapeResult:
        """One GET; ``seconds`` spans request sent to last byte received."""
        start = time.perf_counter()
        try:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._conn.request("GET", self.path, headers=self.headers)
            response = self._conn.getresponse()
            raw = response.read()
            seconds = time.perf_counter() - start
            status = response.status
            content_type = response.getheader("Content-Type", "")
            encoding = response.getheader("Content-Encoding", "")
            if response.will_close:
                self.close()
        except (TimeoutError, OSError, http.client.HTTPException) as err:
            self.close()
            return ScrapeResult(False, 0, time.perf_counter() - start, 0, 0, "", f"{type(err).__name__}: {err}")
        body = raw
        if decode and encoding == "gzip":
            try:
                body = gzip.decompress(raw)
            except (OSError, EOFError) as err:
                return ScrapeResult(False, status, seconds, len(raw), 0, content_type, f"bad gzip: {err}")
        ok = status == 200
        return ScrapeResult(
            ok, status, seconds, len(raw), len(body), content_type,
            "" if ok else f"HTTP {status}", body if keep_body else b"",
        )
