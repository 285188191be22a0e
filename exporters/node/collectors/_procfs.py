"""Small readers shared by the /proc and /sys collectors (Go's parsing rules, where it matters)."""

from __future__ import annotations

from exporters.node.collectors._gocompat import go_parse_uint


def go_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``: no surrounding blanks, no ``_`` digit separators."""
    if not text or text != text.strip() or "_" in text:
        raise ValueError(f"invalid float {text!r}")
    body = text.lstrip("+-")
    if body[:2].lower() == "0x":
        value = float.fromhex(body)
        return -value if text.startswith("-") else value
    return float(text)


def read_text(path: str) -> str:
    """The whole file, decoded leniently (proc files are ASCII, process names need not be)."""
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


def read_uint_file(path: str) -> int:
    """node_exporter's ``readUintFromFile``: the file's trimmed text as a base-10 uint64."""
    return go_parse_uint(read_text(path).strip())


def parse_cpu_range(text: str) -> list[int]:
    """A sysfs CPU list (``0-3,8,10-11``) as procfs's ``parseCPURange`` reads it."""
    cpus: list[int] = []
    for item in text.rstrip("\n").split(","):
        if item == "":
            continue
        if "-" in item:
            bounds = item.split("-")
            if len(bounds) != 2:
                raise ValueError(f"invalid cpu range: {item}")
            start, end = _atoi(bounds[0]), _atoi(bounds[1])
            cpus.extend(i & 0xFFFF for i in range(start, end + 1))
            continue
        cpus.append(_atoi(item) & 0xFFFF)
    return cpus


def _atoi(text: str) -> int:
    """Go's ``strconv.Atoi``: optional sign, decimal digits only."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f"invalid syntax: {text!r}")
    return int(text)
