"""``--help-long`` and ``--help-man``: the exporter's flags as kingpin v2.3.2 prints them (node_exporter v1.7.0).

The flags come from the command-line parser itself, so the output lists exactly what this
exporter accepts; kingpin's presentation (help texts, shown defaults, hidden flags, the
order flags are registered in node_exporter) is added from the tables below where the
parser's own help is worded for argparse. Layout follows kingpin: ``formatFlag``
(``--[no-]`` for booleans, ``=DEFAULT`` Go-quoted for string flags, ``=NAME`` upper-cased
without a default, `` ...`` when repeatable), two columns wrapped by go/doc's
minimum-raggedness rule at the terminal width (``COLUMNS``, the terminal, else 80), and
the ``ManPageTemplate`` troff page.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# exporter-toolkit v0.10.0's and common v0.45.0's wording of the shared flags, which the
# parser words for all three exporters (every node flag carries node_exporter's own).
UPSTREAM_HELP: dict[str, str] = {
    "help": "Show context-sensitive help (also try --help-long and --help-man).",
    "web.config.file": "[EXPERIMENTAL] Path to configuration file that can enable TLS or authentication. See: "
                       "https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md",
    "web.listen-address": "Addresses on which to expose metrics and web interface. Repeatable for multiple addresses.",
    "web.max-requests": "Maximum number of parallel scrape requests. Use 0 to disable.",
    "web.telemetry-path": "Path under which to expose metrics.",
    "log.level": "Only log messages with the given severity or above. One of: [debug, info, warn, error]",
    "log.format": "Output format of log messages. One of: [logfmt, json]",
}
# String flags declared with Default("") upstream (shown as =""); any other flag whose parser
# default is "" has no declared default and shows its upper-cased name.
EMPTY_DEFAULTS = frozenset({"collector.perf.cpus", "collector.qdisc.fixtures", "collector.textfile.directory",
                            "collector.wifi.fixtures", "web.config.file"})
# Flags whose default upstream applies in a PreAction (the parser's default is None), and
# repeatable flags with a default.
DEFAULTS: dict[str, tuple[str, ...]] = {
    "web.listen-address": (":9100",),
    "collector.diskstats.device-exclude": (r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$",),
    "collector.filesystem.mount-points-exclude": (
        "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",),
    "collector.filesystem.fs-types-exclude": (
        "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs"
        "|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$",),
    "collector.systemd.unit-include": (".+",),
    "collector.systemd.unit-exclude": (r".+\.(automount|device|mount|scope|slice)",),
}
HIDDEN = frozenset({"help-long", "help-man"})
# Where node_exporter registers its own flags: after every collector's (collector package init),
# then exporter-toolkit's, then promlog's, then --version.
MAIN_FLAGS = ("web.telemetry-path", "web.disable-exporter-metrics", "web.max-requests", "collector.disable-defaults",
              "runtime.gomaxprocs", "web.systemd-socket", "web.listen-address", "web.config.file", "log.level",
              "log.format")
# A parser help suffix that kingpin does not print (the default is shown by the flag itself).
_DEFAULT_SUFFIX = re.compile(r"\s*\(default:? [^()]*(?:\([^()]*\)[^()]*)*\)\.?$")


@dataclass(frozen=True)
class KingpinFlag:
    """What kingpin's templates read from a flag."""

    name: str
    help: str
    short: str = ""
    boolean: bool = False
    cumulative: bool = False
    default: tuple[str, ...] = ()
    quoted: bool = False
    """A String() flag: kingpin shows its default with strconv.Quote."""
    hidden: bool = False

    def placeholder(self) -> str:
        """kingpin ``FlagModel.FormatPlaceHolder``."""
        if self.default:
            ellipsis = "..." if len(self.default) > 1 else ""
            return (go_quote(self.default[0]) if self.quoted else self.default[0]) + ellipsis
        return self.name.upper()


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``."""
    out = ['"']
    escapes = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v"}
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String`` prints whole and fractional seconds (``5s``, ``500ms``)."""
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes:
        return f"{int(minutes)}m{rest:g}s"
    return f"{seconds:g}s"


# ---------------------------------------------------------------- from the parser


def _long_name(action: argparse.Action) -> str | None:
    for option in action.option_strings:
        if option.startswith("--") and not option.startswith("--no-"):
            return option[2:]
    return None


def _default(action: argparse.Action, name: str) -> tuple[str, ...]:
    if name in DEFAULTS:
        return DEFAULTS[name]
    value = action.default
    if value is None or value == argparse.SUPPRESS or (value == "" and name not in EMPTY_DEFAULTS):
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, float) and getattr(action.type, "__name__", "") == "parse_duration":
        return (go_duration(value),)
    return (str(value),)


def kingpin_flags(parser: argparse.ArgumentParser, collectors: Mapping[str, bool]) -> list[KingpinFlag]:
    """The parser's flags in node_exporter's registration order, presented as kingpin does.

    ``collectors`` maps each collector's name to its default state (its ``--collector.NAME``
    switch gets upstream's help).
    """
    options: list[tuple[str, int, KingpinFlag]] = []
    switches: list[KingpinFlag] = []
    main: dict[str, KingpinFlag] = {}
    ours: list[KingpinFlag] = []
    for index, action in enumerate(parser._actions):
        name = _long_name(action)
        if name is None or name == "version":
            continue
        if action.help == argparse.SUPPRESS and name not in ("help-long", "help-man"):
            continue
        # store_true, or core's add_bool_flag (--flag[=BOOL])
        boolean = action.nargs == 0 or (action.nargs == "?" and action.const is True)
        if name.startswith("collector.") and name[len("collector."):] in collectors:
            collector = name[len("collector."):]
            state = "enabled" if collectors[collector] else "disabled"
            switches.append(KingpinFlag(name, f"Enable the {collector} collector (default: {state}).", boolean=True))
            continue
        help_text = UPSTREAM_HELP.get(name) or _DEFAULT_SUFFIX.sub("", action.help or "")
        flag = KingpinFlag(
            name, help_text, short="h" if name == "help" else "", boolean=boolean,
            cumulative=isinstance(action, argparse._AppendAction),
            default=() if boolean else _default(action, name),
            quoted=action.type in (None, str) and not action.choices and not isinstance(action, argparse._AppendAction),
            hidden=name in HIDDEN,
        )
        if name in MAIN_FLAGS:
            main[name] = flag
        elif name.startswith(("collector.", "path.")):
            # collector package files in name order (paths.go among them), each file's flags in order
            owner = "paths" if name.startswith("path.") else name.split(".")[1]
            options.append((owner, index, flag))
        else:
            ours.append(flag)
    helps = [f for f in ours if f.name in ("help", "help-long", "help-man")]
    rest = [f for f in ours if f not in helps]
    version = KingpinFlag("version", "Show application version.", boolean=True)
    return [*helps, *(f for _, _, f in sorted(options, key=lambda o: (o[0], o[1]))),
            *sorted(switches, key=lambda f: f.name), *(main[n] for n in MAIN_FLAGS if n in main), *rest, version]


# ---------------------------------------------------------------- layout


def _wrap_weight(words: Sequence[str], total: Sequence[int], i: int, j: int, width: int) -> tuple[int, int]:
    n = total[j] - 1 - total[i]
    if j == len(words) and n <= width:
        return 0, 0
    penalty = 0 if words[j - 1][-1] in ".,:;" else 64
    square = (width - n) * (width - n)
    return (square, penalty) if n > width else (0, square + penalty)


def wrap(words: Sequence[str], width: int) -> list[list[str]]:
    """go/doc/comment's ``wrap``: lines of at most ``width`` runes minimising the sum of squared
    leftovers plus 64 for each line not ending in ``.,:;`` (overlong lines first), last line free."""
    if not words:
        return []
    total = [0]
    for word in words:
        total.append(total[-1] + len(word) + 1)
    best: list[tuple[int, int]] = [(0, 0)]
    left: list[int] = [0]
    for j in range(1, len(words) + 1):
        choice = min(range(j), key=lambda i: (_add(best[i], _wrap_weight(words, total, i, j, width)), -i))
        best.append(_add(best[choice], _wrap_weight(words, total, choice, j, width)))
        left.append(choice)
    lines = []
    j = len(words)
    while j > 0:
        lines.append(list(words[left[j]:j]))
        j = left[j]
    return lines[::-1]


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def to_text(text: str, width: int) -> list[str]:
    """go/doc ``ToText`` for one-paragraph help texts: the words, wrapped."""
    return [" ".join(line) for line in wrap(text.split(), width)] or [""]


def format_flag(flag: KingpinFlag, have_short: bool) -> str:
    """kingpin v2.3.2 ``formatFlag``."""
    name = f"[no-]{flag.name}" if flag.boolean else flag.name
    if flag.short:
        text = f"-{flag.short}, --{name}"
    else:
        text = f"    --{name}" if have_short else f"--{name}"
    if not flag.boolean:
        text += "=" + flag.placeholder()
    if flag.cumulative:
        text += " ..."
    return text


def format_two_columns(rows: Sequence[tuple[str, str]], width: int, indent: int = 2, padding: int = 2) -> str:
    """kingpin ``formatTwoColumns``: the first column is as wide as its widest entry under 30."""
    first = max((len(left) for left, _ in rows if len(left) < 30), default=0)
    out = []
    for left, right in rows:
        lines = to_text(right, width - first - padding - indent)
        head = " " * indent + left.ljust(first) + " " * padding
        if len(left) >= 30:
            head += "\n" + " " * (indent + first + padding)
        out.append(head + lines[0] + "\n")
        out.extend(" " * (indent + first + padding) + line + "\n" for line in lines[1:])
    return "".join(out)


def terminal_width() -> int:
    """kingpin ``guessWidth`` for stdout: ``COLUMNS``, then the terminal's width, else 80."""
    columns = os.environ.get("COLUMNS", "")
    if columns.strip().lstrip("+-").isdigit():
        return int(columns)
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return 80


def long_help(app: str, flags: Iterable[KingpinFlag], width: int) -> str:
    """kingpin ``LongHelpTemplate`` for an application without commands or arguments."""
    shown = [f for f in flags if not f.hidden]
    have_short = any(f.short for f in shown)
    rows = [(format_flag(f, have_short), f.help) for f in shown]
    return f"usage: {app} [<flags>]\n\nFlags:\n{format_two_columns(rows, width)}\n"


def man_page(app: str, version: str, flags: Iterable[KingpinFlag]) -> str:
    """kingpin ``ManPageTemplate`` for an application without commands, help or author."""
    parts = [f'.TH {app} 1 {version} ""\n.SH "NAME"\n{app}\n.SH "SYNOPSIS"\n.TP\n\\fB{app} [<flags>]\\fR\n\n'
             '.SH "DESCRIPTION"\n\n.SH "OPTIONS"\n']
    for flag in flags:
        if flag.hidden:
            continue
        short = f"-{flag.short}, " if flag.short else ""
        value = "" if flag.boolean else "=" + flag.placeholder()
        parts.append(f".TP\n\\fB{short}--{flag.name}{value}\\fR\n{flag.help}\n")
    return "".join(parts)


def write_page(parser: argparse.ArgumentParser, collectors: Mapping[str, bool], option_string: str | None) -> None:
    """``--help-long`` or ``--help-man`` (``option_string``) to stdout (``exporters.node.main.KingpinHelpAction``)."""
    flags = kingpin_flags(parser, collectors)
    if option_string == "--help-man":
        sys.stdout.write(man_page(parser.prog, version_text(parser), flags))
    else:
        sys.stdout.write(long_help(parser.prog, flags, terminal_width()))
    sys.stdout.flush()


def version_text(parser: argparse.ArgumentParser) -> str:
    """What ``--version`` prints (the man page's title line carries it, as kingpin's App.Version)."""
    for action in parser._actions:
        if "--version" in action.option_strings:
            return str(action.default)
    return parser.prog
