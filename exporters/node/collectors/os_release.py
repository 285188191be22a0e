"""os: ``node_os_info`` and ``node_os_version`` from os-release(5).

``<rootfs>/etc/os-release`` is read, or ``<rootfs>/usr/lib/os-release`` when the first is
absent; the parsed file is cached until its path or modification time changes. The
format is parsed as hashicorp/go-envparse v0.1.0 does (upstream's parser): ``KEY=value``
lines, ``#`` comments, single and double quotes, backslash escapes inside double quotes.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import GaugeFamily, Metric
from exporters.node.context import NodeContext

NAME = "os"
RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
# node_os_info label -> os-release key.
INFO_LABELS = {
    "build_id": "BUILD_ID",
    "id": "ID",
    "id_like": "ID_LIKE",
    "image_id": "IMAGE_ID",
    "image_version": "IMAGE_VERSION",
    "name": "NAME",
    "pretty_name": "PRETTY_NAME",
    "variant": "VARIANT",
    "variant_id": "VARIANT_ID",
    "version": "VERSION",
    "version_codename": "VERSION_CODENAME",
    "version_id": "VERSION_ID",
}
VERSION_LABELS = {"id": "ID", "id_like": "ID_LIKE", "name": "NAME"}
MAJOR_MINOR = re.compile(r"^[0-9]+\.?[0-9]*")
KEY_START = re.compile(r"[A-Za-z_]")
KEY_REST = re.compile(r"[A-Za-z0-9_./]*")
ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "r": "\r", "n": "\n", "t": "\t"}


def parse_env_line(line: str) -> tuple[str, str] | None:
    """One line: (key, value), or None for a blank or comment line. Raises ValueError."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if "=" not in line:
        raise ValueError('missing "="')
    key, value = (part.strip() for part in line.split("=", 1))
    if len(key) > len("export ") and key.startswith("export "):
        key = key[len("export "):]
    if not key:
        raise ValueError("empty key")
    if not KEY_START.fullmatch(key[0]):
        raise ValueError(f"key must start with [A-Za-z_] but found {key[0]!r}")
    if not KEY_REST.fullmatch(key[1:]):
        raise ValueError(f"key characters must be [A-Za-z0-9/_.] in {key!r}")
    return key, _unquote(value)


def _unquote(value: str) -> str:
    out: list[str] = []
    significant = 0  # length of out up to the last non-blank character, for trailing comments
    mode = "normal"
    i = 0
    while i < len(value):
        char = value[i]
        i += 1
        if ord(char) < 32:
            raise ValueError(f"0x{ord(char):02x} is an invalid value character")
        if ord(char) > 127:
            if mode == "escape":
                raise ValueError("multibyte characters disallowed in escape sequences")
            out.append(char)
            significant = len(out)
            continue
        if mode == "normal":
            if char == '"':
                mode = "double"
            elif char == "'":
                mode = "single"
            elif char == "#":
                return "".join(out[:significant])
            else:
                out.append(char)
                if char not in " \t":
                    significant = len(out)
        elif mode == "double":
            if char == '"':
                mode = "normal"
            elif char == "\\":
                mode = "escape"
            else:
                out.append(char)
                significant = len(out)
        elif mode == "escape":
            if char == "u":
                code, i = _hex4(value, i)
                if 0xD800 <= code < 0xE000:
                    if value[i:i + 2] != "\\u":
                        raise ValueError("incomplete UTF-16 surrogate pair")
                    low, i = _hex4(value, i + 2)
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                out.append(chr(code))
            elif char in ESCAPES:
                out.append(ESCAPES[char])
            else:
                raise ValueError(f"invalid escape sequence: {char!r}")
            significant = len(out)
            mode = "double"
        else:  # single
            if char == "'":
                mode = "normal"
            else:
                out.append(char)
                significant = len(out)
    if mode != "normal":
        raise ValueError({"double": 'unmatched "', "single": "unmatched '"}.get(mode, "incomplete escape sequence"))
    return "".join(out)


def _hex4(value: str, i: int) -> tuple[int, int]:
    digits = value[i:i + 4]
    if len(digits) < 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"invalid hex escape {digits!r}")
    return int(digits, 16), i + 4


def parse_os_release(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        try:
            parsed = parse_env_line(line)
        except ValueError as err:
            raise ValueError(f"error on line {number}: {err}") from err
        if parsed is not None:
            env[parsed[0]] = parsed[1]
    return env


def os_version(version_id: str) -> float:
    """The major.minor prefix of VERSION_ID as a number (0 when there is none)."""
    match = MAJOR_MINOR.match(version_id)
    return float(match.group(0)) if match else 0.0


class OSRelease(NamedTuple):
    env: dict[str, str]
    version: float


class OsCollector:
    def __init__(self, context: NodeContext) -> None:
        self.context = context
        self.lock = threading.Lock()
        self.cached: tuple[str, int, OSRelease] | None = None

    def read_release(self) -> OSRelease:
        for path in (self.context.root(name) for name in RELEASE_FILES):
            try:
                with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                    mtime = os.fstat(handle.fileno()).st_mtime_ns
                    with self.lock:
                        if self.cached is not None and self.cached[:2] == (path, mtime):
                            return self.cached[2]
                    env = parse_os_release(handle.read())
            except FileNotFoundError:
                continue
            release = OSRelease(env, os_version(env.get("VERSION_ID", "")))
            with self.lock:
                self.cached = (path, mtime, release)
            return release
        raise NoDataError("no os-release file found")

    def collect(self) -> Iterable[Metric]:
        release = self.read_release()
        info = GaugeFamily(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, "
            "name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            labels=list(INFO_LABELS))
        info.add_metric([release.env.get(key, "") for key in INFO_LABELS.values()], 1.0)
        yield info
        version = GaugeFamily("node_os_version", "Metric containing the major.minor part of the OS version.",
                                    labels=list(VERSION_LABELS))
        version.add_metric([release.env.get(key, "") for key in VERSION_LABELS.values()], release.version)
        yield version


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=OsCollector, enabled_by_default=True, help="Expose OS release info.",
    source="/etc/os-release, or /usr/lib/os-release (under --path.rootfs)",
)
