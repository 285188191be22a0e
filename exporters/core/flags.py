"""Command-line conventions shared by the three exporters (exporter-toolkit's flags)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, Protocol, TypeVar

from exporters import __version__
from exporters.core.collector import CollectorSpec

Row = TypeVar("Row", bound="CollectorSwitch")


class ConfigError(Exception):
    """Bad configuration: reported as one line on stderr, exit code 1, no traceback."""


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: ``$COLUMNS``, else the terminal's width, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized as argparse sizes it but without importing ``shutil``.

    argparse builds a formatter for every ``add_argument`` (to check the metavar), and its
    own sizing imports shutil, which loads bz2 and lzma: ~0.6 MiB resident in every
    exporter for a help text that is rarely printed.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         terminal_columns() - 2 if width is None else width)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error and Go-style long options (no abbreviations).

    A flag whose environment variable does not parse (``add_bool_flag``) stops the parse
    with exit code 1, as kingpin does for a bad ``Envar``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, rest = super().parse_known_args(args, namespace)
        for value in vars(parsed).values():
            if isinstance(value, InvalidEnv):
                sys.stderr.write(f"{self.prog}: error: {value.message}\n")
                sys.exit(1)
        return parsed, rest


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``: what kingpin and Go's flag package accept for a boolean."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"invalid boolean value {text!r}")


def go_bool_argument(text: str) -> bool:
    """An argparse ``type`` for a boolean flag's value: ``parse_go_bool``, refused as argparse refuses."""
    try:
        return parse_go_bool(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class InvalidEnv:
    """The default of a flag whose environment variable did not parse; reported by the parser.

    Not a ``str``: argparse would run a string default through the flag's ``type``.
    """

    def __init__(self, name: str, raw: str) -> None:
        self.message = f"environment variable {name}: {raw!r} is not a boolean"


def add_bool_flag(
    container: argparse._ActionsContainer,
    flag: str,
    help: str,
    default: bool = False,
    env_name: str | None = None,
    env: Mapping[str, str] | None = None,
    dest: str | None = None,
) -> None:
    """A kingpin boolean flag: ``--flag``, ``--flag=false``, ``--no-flag``, and its ``Envar``.

    ``flag`` is given without dashes (``disable-default-metrics``); ``dest`` defaults to its
    spelling with ``_`` for ``-`` and ``.``.
    """
    dest = dest or flag.replace("-", "_").replace(".", "_")
    value: bool | InvalidEnv = default
    raw = (os.environ if env is None else env).get(env_name or "", "") if env_name else ""
    if raw:
        try:
            value = parse_go_bool(raw)
        except ValueError:
            value = InvalidEnv(env_name or "", raw)
    suffix = f" (env {env_name})" if env_name else ""
    container.add_argument(f"--{flag}", dest=dest, nargs="?", const=True, type=go_bool_argument, default=value,
                           metavar="BOOL", help=f"{help}{suffix}")
    container.add_argument(f"--no-{flag}", dest=dest, action="store_false", help=argparse.SUPPRESS)


class _Repeatable(argparse.Action):
    """``append`` whose first use replaces the default instead of adding to it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        current = getattr(namespace, self.dest)
        items = [] if current is self.default else list(current)
        items.append(values)
        setattr(namespace, self.dest, items)


def env_default(env: Mapping[str, str] | None, name: str | None, default: Any) -> Any:
    """The flag default, overridden by environment variable ``name`` when it is set."""
    if env is None or name is None:
        return default
    return env.get(name, default)


def add_web_flags(
    parser: argparse.ArgumentParser,
    default_address: str,
    env_names: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    openmetrics: bool = True,
    max_requests: int = 40,
    processes: bool = False,
) -> None:
    """exporter-toolkit's web flags plus the scrape-deadline and logging flags.

    ``env_names`` maps a dest (``web_listen_address``...) to the environment variable an
    upstream exporter reads it from (postgres_exporter's ``PG_EXPORTER_WEB_LISTEN_ADDRESS``).
    ``processes`` adds ``--scrape.processes`` (an exporter whose multi-target endpoint can run
    in worker processes).
    """
    names = dict(env_names or {})
    environ = os.environ if env is None else env
    listen_env = environ.get(names["web_listen_address"]) if "web_listen_address" in names else None
    web = parser.add_argument_group("web")
    web.add_argument(
        "--web.listen-address", dest="web_listen_address", action=_Repeatable, metavar="ADDRESS",
        default=[listen_env or default_address],
        help=f"Address on which to expose metrics and web interface; repeatable (default {default_address}).",
    )
    web.add_argument(
        "--web.systemd-socket", dest="web_systemd_socket", action="store_true",
        help="Use systemd socket activation listeners instead of port listeners (Linux only).",
    )
    web.add_argument(
        "--web.telemetry-path", dest="web_telemetry_path", metavar="PATH",
        default=env_default(environ, names.get("web_telemetry_path"), "/metrics"),
        help="Path under which to expose metrics (default /metrics).",
    )
    web.add_argument(
        "--web.config.file", dest="web_config_file", metavar="FILE",
        default=env_default(environ, names.get("web_config_file"), ""),
        help="Path to a configuration file that can enable TLS or authentication (exporter-toolkit format).",
    )
    web.add_argument(
        "--web.max-requests", dest="web_max_requests", type=int, metavar="N",
        default=int(env_default(environ, names.get("web_max_requests"), max_requests)),
        help=f"Maximum number of parallel scrape requests; 0 disables the limit (default {max_requests}).",
    )
    if openmetrics:
        web.add_argument(
            "--web.enable-openmetrics", dest="web_enable_openmetrics", action="store_true",
            help="Answer OpenMetrics 1.0.0 when the scraper's Accept header prefers it (not an upstream flag: "
            "upstream always answers the text format 0.0.4, the default here too).",
        )
    web.add_argument(
        "--scrape.timeout", dest="scrape_timeout", type=parse_duration, metavar="SECONDS",
        default=10.0,
        help="Scrape deadline when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds header "
        "(default 10s, Prometheus's default scrape_timeout; 0 disables).",
    )
    web.add_argument(
        "--scrape.max-timeout", dest="scrape_max_timeout", type=parse_duration, metavar="SECONDS", default=120.0,
        help="Longest scrape deadline a scraper's X-Prometheus-Scrape-Timeout-Seconds header may ask for "
        "(default 2m; not an upstream flag).",
    )
    web.add_argument(
        "--scrape.max-series", dest="scrape_max_series", type=int, metavar="N", default=500_000,
        help="Series one scrape may answer; the rest are cut and counted in exporters_series_dropped_total "
        "(default 500000, 0: no limit; not an upstream flag).",
    )
    add_bool_flag(
        web, "scrape.share", default=True, dest="scrape_share",
        help="Identical scrapes arriving while one is being collected wait for its answer instead of "
        "collecting again (same path, query, credentials, Accept and Accept-Encoding; never an answer "
        "finished before the request came); --no-scrape.share turns it off (not an upstream flag).",
    )
    if processes:  # only where a scrape holds no per-process state worth sharing (redis /scrape)
        web.add_argument(
            "--scrape.processes", dest="scrape_processes", type=int, metavar="N", default=0,
            help="Collect and render multi-target scrapes in a pool of N worker processes, started at the "
            "first one, so they use more than one core (default 0: in the exporter's process; "
            "not an upstream flag).",
        )
    web.add_argument(
        "--scrape.timeout-offset", dest="scrape_timeout_offset", type=parse_duration, metavar="SECONDS",
        default=0.5,
        help="Subtracted from the scraper's timeout to leave time for the response (default 0.5s).",
    )
    log = parser.add_argument_group("logging")
    log.add_argument(
        "--log.level", dest="log_level", default=env_default(environ, names.get("log_level"), "info"),
        choices=["debug", "info", "warn", "error"], help="Only log messages with the given severity or above.",
    )
    log.add_argument(
        "--log.format", dest="log_format", default=env_default(environ, names.get("log_format"), "logfmt"),
        choices=["logfmt", "json"], help="Output format of log messages.",
    )


def parse_duration(text: str) -> float:
    """Parse ``1.5``, ``500ms``, ``10s``, ``2m``, ``1h``, ``1m30s`` into seconds."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    raw = text.strip()
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        if value < 0:
            raise argparse.ArgumentTypeError(f"negative duration {text!r}")
        return value
    total = 0.0
    rest = raw
    if not rest:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    while rest:
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        number, rest = rest[:i], rest[i:]
        j = 0
        while j < len(rest) and not (rest[j].isdigit() or rest[j] == "."):
            j += 1
        unit, rest = rest[:j], rest[j:]
        if not number or unit not in units:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
        try:
            total += float(number) * units[unit]
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r}") from err
    return total


class _VersionAction(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        sys.stdout.write(f"{self.default}\n")
        parser.exit(0)


def add_version_flag(parser: argparse.ArgumentParser, upstream: str, upstream_version: str) -> None:
    """``--version``: our version, the upstream version we match, the Python running us."""
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0,
        default=f"{upstream}, version {__version__} (exporters; compatible with {upstream} {upstream_version}; "
        f"python {sys.version.split()[0]})",
        help="Show application version.",
    )


class CollectorSwitch(Protocol):
    """What ``--collector.NAME`` needs of a collector: a ``CollectorSpec`` or a row of a table of them."""

    @property
    def name(self) -> str: ...

    @property
    def enabled_by_default(self) -> bool: ...

    @property
    def help(self) -> str: ...


def add_collector_flags(parser: argparse.ArgumentParser, specs: Sequence[Row],
                        add_row_options: Callable[[argparse.ArgumentParser, Row], None] | None = None) -> None:
    """``--collector.NAME`` / ``--no-collector.NAME`` for every row of the table, each followed by
    its options: ``add_row_options(parser, row)``, by default the ``CollectorSpec``'s options dataclass."""
    group = parser.add_argument_group("collectors")
    group.add_argument(
        "--collector.disable-defaults", dest="collector_disable_defaults", action="store_true",
        help="Set all collectors to disabled by default.",
    )
    for spec in specs:
        dest = "collector_enable_" + spec.name.replace(".", "_")
        state = "enabled" if spec.enabled_by_default else "disabled"
        group.add_argument(
            f"--collector.{spec.name}", dest=dest, action="store_true", default=None,
            help=f"Enable the {spec.name} collector (default: {state}). {spec.help}".rstrip(),
        )
        group.add_argument(f"--no-collector.{spec.name}", dest=dest, action="store_false",
                           help=argparse.SUPPRESS)
        (add_row_options or _add_spec_options)(parser, spec)


def _add_spec_options(parser: argparse.ArgumentParser, spec: Any) -> None:
    """A ``CollectorSpec``'s options dataclass as flags, in a group of its own."""
    from exporters.core.options import add_options  # options builds on this module's flags

    if isinstance(spec, CollectorSpec) and spec.options is not None:
        add_options(parser.add_argument_group(f"{spec.name} collector"), spec.options)


def enabled_collectors(args: argparse.Namespace, specs: Sequence[Row]) -> list[Row]:
    """The rows switched on by flags, defaults and ``--collector.disable-defaults``."""
    chosen = []
    for spec in specs:
        flag = getattr(args, "collector_enable_" + spec.name.replace(".", "_"))
        if flag is None:
            flag = spec.enabled_by_default and not args.collector_disable_defaults
        if flag:
            chosen.append(spec)
    return chosen
