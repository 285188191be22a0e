"""Typed settings, built once from the parsed flags and environment.

An exporter's ``main`` parses its command line, turns the result into frozen settings
objects here and in its own package, and constructs its app from those; no argparse
``Namespace`` travels further than that.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from exporters.core.flags import ConfigError
from exporters.core.listen import parse_listen_address

# each worker is a whole interpreter (~30 MiB): more than this is a typo, not a plan
MAX_SCRAPE_PROCESSES = 64


@dataclass(frozen=True)
class LogSettings:
    """``--log.level`` and ``--log.format``."""

    level: str = "info"
    format: str = "logfmt"
    # go-kit (node_exporter, postgres_exporter) or logrus (redis_exporter)
    style: str = "go-kit"

    @classmethod
    def from_args(cls, args: argparse.Namespace, style: str = "go-kit") -> LogSettings:
        return cls(level=str(args.log_level), format=str(args.log_format), style=style)


@dataclass(frozen=True)
class WebSettings:
    """exporter-toolkit's web flags plus the scrape-deadline flags (``add_web_flags``)."""

    listen_addresses: tuple[str, ...] = (":0",)
    systemd_socket: bool = False
    telemetry_path: str = "/metrics"
    config_file: str = ""
    # parallel /metrics scrapes beyond it get 503 (node_exporter's --web.max-requests); 0: no limit
    max_requests: int = 40
    scrape_timeout: float = 10.0
    scrape_timeout_offset: float = 0.5
    # the longest deadline a scraper's X-Prometheus-Scrape-Timeout-Seconds may set
    scrape_max_timeout: float = 120.0
    # series per scrape; the rest are cut (0: no limit)
    max_series: int = 500_000
    openmetrics: bool = False
    # identical simultaneous scrapes share one collection and one answer (--scrape.share)
    share_scrapes: bool = True
    # worker processes that collect and render the multi-target endpoint (0: in process)
    scrape_processes: int = 0

    def __post_init__(self) -> None:
        if not self.telemetry_path.startswith("/"):
            raise ConfigError(f"--web.telemetry-path must start with '/': {self.telemetry_path!r}")
        if self.max_requests < 0:
            raise ConfigError("--web.max-requests must not be negative")
        if self.max_series < 0:
            raise ConfigError("--scrape.max-series must not be negative")
        if not 0 <= self.scrape_processes <= MAX_SCRAPE_PROCESSES:
            raise ConfigError(f"--scrape.processes must be between 0 and {MAX_SCRAPE_PROCESSES}")
        if not self.systemd_socket:
            for address in self.listen_addresses:
                parse_listen_address(address)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> WebSettings:
        return cls(
            listen_addresses=tuple(args.web_listen_address),
            systemd_socket=bool(args.web_systemd_socket),
            telemetry_path=str(args.web_telemetry_path or "/metrics"),
            config_file=str(args.web_config_file or ""),
            max_requests=int(args.web_max_requests),
            scrape_timeout=float(args.scrape_timeout),
            scrape_timeout_offset=float(args.scrape_timeout_offset),
            scrape_max_timeout=float(args.scrape_max_timeout),
            max_series=int(args.scrape_max_series),
            openmetrics=bool(getattr(args, "web_enable_openmetrics", False)),
            share_scrapes=bool(getattr(args, "scrape_share", True)),
            scrape_processes=int(getattr(args, "scrape_processes", 0)),
        )
