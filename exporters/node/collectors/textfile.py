"""textfile: metrics written by other programs into ``*.prom`` files (Prometheus text format).

Semantics follow node_exporter: the directory (``--collector.textfile.directory``, a glob
is allowed) is read on every scrape; a file that cannot be read or parsed, or that carries
client-side timestamps, is skipped whole and sets ``node_textfile_scrape_error`` to 1; a
family without HELP gets "Metric read from <files>"; label names missing from some
series of a family are filled with empty values. Series that conflict with an earlier file
(same name with another type or HELP, or the same name and labels twice) are dropped and
logged, as node_exporter's registry drops them, without failing the scrape.

Hostile or broken files cost little: a ``*.prom`` entry that is not a regular file (a FIFO,
a socket, a device, a directory; symlinks are followed) is not read but reported as an
error, so a FIFO without a writer cannot hang the scrape as it hangs upstream's; a file
larger than ``--collector.textfile.max-bytes`` (64 MiB by default, 0: no limit) is skipped
with an error naming the flag, and never read past the limit; parsing checks the scrape
deadline every few thousand lines.
"""

from __future__ import annotations

import logging
import math
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.deadline import current_deadline
from exporters.core.exposition import format_value
from exporters.core.metrics import GaugeFamily, Metric, Sample
from exporters.core.options import option
from exporters.node.collectors._files import glob_sorted, list_dir
from exporters.node.collectors._strconv import go_parse_float
from exporters.node.context import NodeContext

LOGGER = logging.getLogger("exporters.node")

NAME = "textfile"

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_TIMESTAMP = re.compile(r"[+-]?[0-9]+")
_TYPES = {"counter": "counter", "gauge": "gauge", "untyped": "unknown", "summary": "summary",
          "histogram": "histogram"}
_BLANK = " \t"
DEFAULT_MAX_BYTES = 64 << 20
# The parse loop looks at the scrape deadline this often (lines).
CHECK_EVERY = 4096


def _no_check() -> None:
    """Stands for the scrape deadline's check where no deadline applies."""


def parse_expfmt_float(text: str) -> float:
    """The text format's float: ``strconv.ParseFloat`` without hexadecimal floats or ``_``
    (prometheus/common expfmt refuses ``p``, ``P`` and ``_`` before calling it)."""
    if any(c in text for c in "pP_"):
        raise ValueError(f"unsupported character in float {text!r}")
    return go_parse_float(text)


class TextParseError(ValueError):
    """A text-format file that node_exporter's parser (expfmt.TextParser) rejects."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"text format parsing error in line {line}: {message}")


@dataclass
class ParsedMetric:
    """One series (counter, gauge, untyped) or one summary/histogram, with its labels."""

    labels: dict[str, str]
    value: float = 0.0
    timestamp: int | None = None
    count: float = 0.0
    sum: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound or quantile -> value


@dataclass
class ParsedFamily:
    """One metric family of a textfile: its name, HELP, TYPE and samples."""

    name: str
    help: str | None = None
    type: str | None = None
    metrics: list[ParsedMetric] = field(default_factory=list)
    _index: dict[tuple[tuple[str, str], ...], ParsedMetric] = field(default_factory=dict, repr=False)


def _unescape(text: str, line_no: int, quote: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                raise TextParseError(line_no, "invalid escape sequence at end of line")
            nxt = text[i + 1]
            if nxt == "\\":
                out.append("\\")
            elif nxt == "n":
                out.append("\n")
            elif nxt == '"' and quote:
                out.append('"')
            else:
                raise TextParseError(line_no, f"invalid escape sequence '\\{nxt}'")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _parse_labels(text: str, pos: int, line_no: int, name: str) -> tuple[list[tuple[str, str]], int]:
    """Labels from ``{`` at ``pos``; returns them and the position after ``}``."""
    labels: list[tuple[str, str]] = []
    pos += 1
    while True:
        while pos < len(text) and text[pos] in _BLANK:
            pos += 1
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        match = _LABEL_NAME.match(text, pos)
        if match is None:
            raise TextParseError(line_no, f"invalid label name for metric {name!r}")
        label = match.group(0)
        pos = match.end()
        while pos < len(text) and text[pos] in _BLANK:
            pos += 1
        if pos >= len(text) or text[pos] != "=":
            raise TextParseError(line_no, f"expected '=' after label name, found {text[pos:pos + 1]!r}")
        pos += 1
        while pos < len(text) and text[pos] in _BLANK:
            pos += 1
        if pos >= len(text) or text[pos] != '"':
            raise TextParseError(line_no, f"expected '\"' at start of label value, found {text[pos:pos + 1]!r}")
        pos += 1
        start = pos
        while pos < len(text) and text[pos] != '"':
            pos += 2 if text[pos] == "\\" else 1
        if pos >= len(text):
            raise TextParseError(line_no, "unexpected end of label value")
        value = _unescape(text[start:pos], line_no, quote=True)
        pos += 1
        if label == "__name__":
            raise TextParseError(line_no, "label name \"__name__\" is reserved")
        labels.append((label, value))
        while pos < len(text) and text[pos] in _BLANK:
            pos += 1
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        raise TextParseError(line_no, f"unexpected end of label set for metric {name!r}")


def _value_and_timestamp(line: str, pos: int, line_no: int) -> tuple[str, str | None]:
    """The value token and the optional timestamp token; only spaces and tabs separate tokens."""
    while pos < len(line) and line[pos] in _BLANK:
        pos += 1
    end = pos
    while end < len(line) and line[end] not in _BLANK:
        end += 1
    value = line[pos:end]
    if not value:
        raise TextParseError(line_no, "expected float as value, got \"\"")
    if end == len(line):
        return value, None
    pos = end
    while pos < len(line) and line[pos] in _BLANK:
        pos += 1
    end = pos
    while end < len(line) and line[end] not in _BLANK:
        end += 1
    # a blank after the value promises a timestamp; nothing may follow the timestamp
    if end < len(line):
        raise TextParseError(line_no, f"spurious string after timestamp: {line[end:]!r}")
    return value, line[pos:end]


def parse_text_format(text: str, check: Callable[[], None] = _no_check) -> dict[str, ParsedFamily]:
    """Parse Prometheus text format 0.0.4 into families, by the rules of Go's expfmt.TextParser.

    ``check`` (the scrape deadline's) is called every CHECK_EVERY lines.
    """
    families: dict[str, ParsedFamily] = {}

    def family_for_sample(name: str) -> tuple[ParsedFamily, str]:
        for suffix, kinds in (("_bucket", ("histogram",)), ("_count", ("summary", "histogram")),
                              ("_sum", ("summary", "histogram"))):
            if name.endswith(suffix):
                base = families.get(name[: -len(suffix)])
                if base is not None and base.type in kinds:
                    return base, suffix
        fam = families.get(name)
        if fam is None:
            fam = families[name] = ParsedFamily(name)
        return fam, ""

    for line_no, raw in enumerate(text.split("\n"), start=1):
        if line_no % CHECK_EVERY == 0:
            check()
        line = raw.lstrip(_BLANK)
        if not line:
            continue
        if line.startswith("#"):
            rest = line[1:].lstrip(_BLANK)
            keyword = re.match(r"[^ \t]*", rest)
            token = keyword.group(0) if keyword else ""
            if token not in ("HELP", "TYPE"):
                continue
            rest = rest[len(token):].lstrip(_BLANK)
            match = _METRIC_NAME.match(rest)
            if match is None:
                raise TextParseError(line_no, "invalid metric name in comment")
            name = match.group(0)
            rest = rest[match.end():]
            if rest and rest[0] not in _BLANK:
                raise TextParseError(line_no, "invalid metric name in comment")
            rest = rest.lstrip(_BLANK)
            if not rest:
                # "# HELP name" alone sets nothing, as in Go's parser
                continue
            fam = families.get(name)
            if fam is None:
                fam = families[name] = ParsedFamily(name)
            if token == "HELP":
                if fam.help is not None:
                    raise TextParseError(line_no, f"second HELP line for metric name {name!r}")
                fam.help = _unescape(rest, line_no, quote=False)
            else:
                if fam.type is not None:
                    raise TextParseError(
                        line_no, f"second TYPE line for metric name {name!r}, or TYPE reported after samples"
                    )
                # the whole rest of the line is the type: trailing blanks make it unknown
                kind = rest.lower()
                if kind not in _TYPES:
                    raise TextParseError(line_no, f"unknown metric type {rest!r}")
                fam.type = kind
            continue

        match = _METRIC_NAME.match(line)
        if match is None:
            raise TextParseError(line_no, f"invalid metric name {(line.split() or [line])[0]!r}")
        name = match.group(0)
        pos = match.end()
        while pos < len(line) and line[pos] in _BLANK:
            pos += 1
        labels: list[tuple[str, str]] = []
        if pos < len(line) and line[pos] == "{":
            labels, pos = _parse_labels(line, pos, line_no, name)
        elif pos == match.end() and pos < len(line):
            raise TextParseError(line_no, f"invalid metric name {line.split()[0]!r}")
        value_text, timestamp_text = _value_and_timestamp(line, pos, line_no)
        try:
            # Go's exposition never writes -0
            value = parse_expfmt_float(value_text) + 0.0
        except ValueError:
            raise TextParseError(line_no, f"expected float as value, got {value_text!r}") from None
        timestamp = None
        if timestamp_text is not None:
            if not _TIMESTAMP.fullmatch(timestamp_text):
                raise TextParseError(line_no, f"expected integer as timestamp, got {timestamp_text!r}")
            timestamp = int(timestamp_text)

        fam, suffix = family_for_sample(name)
        if fam.type is None:
            fam.type = "untyped"
        special = {"summary": "quantile", "histogram": "le"}.get(fam.type)
        bound: float | None = None
        plain: list[tuple[str, str]] = []
        for label, label_value in labels:
            if special is None or label != special:
                if any(existing == label for existing, _ in plain):
                    raise TextParseError(line_no, f"duplicate label names for metric {name!r}")
            if special is not None and label == special and suffix in ("", "_bucket"):
                try:
                    bound = parse_expfmt_float(label_value)
                except ValueError:
                    raise TextParseError(
                        line_no, f"expected float as value for {special!r} label, got {label_value!r}"
                    ) from None
                continue
            plain.append((label, label_value))
        if fam.type in ("summary", "histogram"):
            key = tuple(sorted(plain))
            metric = fam._index.get(key)
            if metric is None:
                metric = fam._index[key] = ParsedMetric(dict(plain))
                fam.metrics.append(metric)
            if suffix == "_count":
                metric.count = value
            elif suffix == "_sum":
                metric.sum = value
            elif bound is not None:
                metric.buckets[bound] = value
            if timestamp is not None:
                metric.timestamp = timestamp
        else:
            fam.metrics.append(ParsedMetric(dict(plain), value=value, timestamp=timestamp))
    return {name: fam for name, fam in families.items() if fam.metrics}


def label_names(fam: ParsedFamily) -> list[str]:
    """Every label name used by some series of the family, in order of appearance."""
    names: list[str] = []
    for m in fam.metrics:
        for label in m.labels:
            if label not in names:
                names.append(label)
    return names


def convert_family(fam: ParsedFamily, help_text: str, metrics: list[ParsedMetric] | None = None) -> Metric:
    """A parsed family as one metric family; missing label names are filled with ``""``."""
    names = label_names(fam)
    typ = _TYPES[fam.type or "untyped"]
    out = Metric(fam.name, help_text, typ)
    for m in fam.metrics if metrics is None else metrics:
        labels = {n: m.labels.get(n, "") for n in names}
        if typ == "summary":
            for q in sorted(m.buckets):
                out.samples.append(Sample(fam.name, {**labels, "quantile": format_value(q)}, m.buckets[q]))
            out.samples.append(Sample(fam.name + "_sum", labels, m.sum))
            out.samples.append(Sample(fam.name + "_count", labels, float(_to_uint(m.count))))
        elif typ == "histogram":
            # node_exporter rebuilds the histogram from its finite buckets; +Inf is the count.
            for bound in sorted(b for b in m.buckets if not (math.isinf(b) and b > 0)):
                out.samples.append(Sample(fam.name + "_bucket", {**labels, "le": format_value(bound)},
                                          float(_to_uint(m.buckets[bound]))))
            out.samples.append(Sample(fam.name + "_bucket", {**labels, "le": "+Inf"}, float(_to_uint(m.count))))
            out.samples.append(Sample(fam.name + "_sum", labels, m.sum))
            out.samples.append(Sample(fam.name + "_count", labels, float(_to_uint(m.count))))
        else:
            out.samples.append(Sample(fam.name, labels, m.value))
    return out


def _to_uint(value: float) -> int:
    """Go's ``uint64(float)`` for the counts of summaries and histograms."""
    if math.isnan(value) or value < 0:
        return 0
    if math.isinf(value) or value >= 2**64:
        return 2**63
    return int(value)


class TextfileCollector:
    def __init__(self, directory: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def read_bytes(self, path: str) -> tuple[bytes, int]:
        """A regular file's content (bounded by ``max_bytes``) and its mtime in whole seconds.

        Opened without blocking and checked after opening (no race with a rename): a FIFO
        with no writer would otherwise block the open, and one with a writer the read.
        """
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"textfile {path!r} is not a regular file, skipping it")
            limit = self.max_bytes if self.max_bytes > 0 else None
            if limit is not None and info.st_size > limit:
                raise ValueError(f"textfile {path!r} is larger than {limit} bytes "
                                 "(--collector.textfile.max-bytes), skipping it")
            chunks = []
            size = 0
            while chunk := os.read(fd, 1 << 20 if limit is None else min(1 << 20, limit + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
                if limit is not None and size > limit:
                    raise ValueError(f"textfile {path!r} grew past {limit} bytes "
                                     "(--collector.textfile.max-bytes), skipping it")
            return b"".join(chunks), info.st_mtime_ns // 1_000_000_000
        finally:
            os.close(fd)

    def read_file(self, path: str) -> tuple[dict[str, ParsedFamily], int]:
        """Parse one file; return its families and its mtime (whole seconds)."""
        data, mtime = self.read_bytes(path)
        # a CR is part of the line, as for Go's parser
        text = data.decode("utf-8", errors="replace")
        deadline = current_deadline()
        try:
            families = parse_text_format(text, lambda: deadline.check(f"parsing {path}"))
        except TextParseError as err:
            raise ValueError(f"failed to parse textfile data from {path!r}: {err}") from None
        if any(m.timestamp is not None for fam in families.values() for m in fam.metrics):
            raise ValueError(f"textfile {path!r} contains unsupported client-side timestamps, skipping entire file")
        return families, mtime

    def collect(self) -> Iterable[Metric]:
        errored = False
        parsed: list[ParsedFamily] = []
        files_by_name: dict[str, list[str]] = {}
        mtimes: dict[str, int] = {}

        paths = glob_sorted(self.directory) if self.directory else []
        if not paths:
            paths = [self.directory]
        for directory in paths:
            try:
                entries = list_dir(directory)
            except OSError as err:
                entries = []
                if directory != "":
                    errored = True
                    LOGGER.error("failed to read textfile collector directory",
                                 extra={"collector": NAME, "path": directory, "err": str(err)})
            for entry in entries:
                if not entry.endswith(".prom"):
                    continue
                # filepath.Join cleans the path: "./dir/" + "a.prom" is "dir/a.prom"
                path = os.path.normpath(os.path.join(directory, entry))
                try:
                    families, mtime = self.read_file(path)
                except (OSError, ValueError) as err:
                    errored = True
                    LOGGER.error("failed to collect textfile data",
                                 extra={"collector": NAME, "file": entry, "err": str(err)})
                    continue
                for fam in families.values():
                    files_by_name.setdefault(fam.name, []).append(path)
                    parsed.append(fam)
                mtimes[path] = mtime

        out: list[Metric] = []
        kinds: dict[str, tuple[str, str]] = {}
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for fam in parsed:
            help_text = fam.help if fam.help is not None else (
                "Metric read from " + ", ".join(files_by_name[fam.name]))
            typ = _TYPES[fam.type or "untyped"]
            first = kinds.setdefault(fam.name, (typ, help_text))
            if first != (typ, help_text):
                LOGGER.error(
                    "dropping textfile metric that conflicts with an earlier file",
                    extra={"collector": NAME, "metric": fam.name,
                           "err": f"has type {typ} and help {help_text!r} "
                                  f"but should have type {first[0]} and help {first[1]!r}"},
                )
                continue
            names = label_names(fam)
            kept: list[ParsedMetric] = []
            for m in fam.metrics:
                key = (fam.name, tuple(sorted((n, m.labels.get(n, "")) for n in names)))
                if key in seen:
                    LOGGER.error("dropping duplicate textfile series",
                                 extra={"collector": NAME, "metric": fam.name, "labels": str(dict(key[1]))})
                    continue
                seen.add(key)
                kept.append(m)
            out.append(convert_family(fam, help_text, kept))

        mtime_family = GaugeFamily("node_textfile_mtime_seconds",
                                         "Unixtime mtime of textfiles successfully read.", labels=["file"])
        for path in sorted(mtimes):
            mtime_family.add_metric([path], float(mtimes[path]))
        out.append(mtime_family)
        out.append(GaugeFamily("node_textfile_scrape_error",
                                     "1 if there was an error opening or reading a file, 0 otherwise",
                                     value=1.0 if errored else 0.0))
        return out


@dataclass(frozen=True)
class TextfileOptions:
    """The textfile collector's flags (``--collector.textfile.*``)."""

    directory: str = option("--collector.textfile.directory", "", "Directory to read text files with metrics from.")
    max_bytes: int = option("--collector.textfile.max-bytes", DEFAULT_MAX_BYTES,
                            "Skip (as an error) textfiles larger than this; 0: no limit. Not in node_exporter, "
                            "which reads any size.")


def build(context: NodeContext) -> TextfileCollector:
    options = context.options(TextfileOptions)
    return TextfileCollector(options.directory, options.max_bytes)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=build, enabled_by_default=True,
    help="Exposes statistics read from local disk.", options=TextfileOptions,
    source="*.prom files in --collector.textfile.directory",
    families=(
        FamilyDoc("node_textfile_mtime_seconds"),
        FamilyDoc("node_textfile_scrape_error"),
        FamilyDoc("<metric>", "any", (), "The file's HELP, or \"Metric read from <files>\"; type and labels as in the "
                  "file", examples=False),
    ),
)
