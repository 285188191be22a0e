"""Reading exposition text back in tests: families with their type, label names and samples."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Family:
    name: str
    type: str = "untyped"
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def label_names(self) -> set[str]:
        names: set[str] = set()
        for _, labels, _ in self.samples:
            names.update(k for k in labels if k != "le" and k != "quantile")
        return names

    def values(self, **match: str) -> list[float]:
        return [v for _, labels, v in self.samples if all(labels.get(k) == want for k, want in match.items())]

    def value(self, **match: str) -> float:
        found = self.values(**match)
        assert len(found) == 1, f"{self.name}{match}: {len(found)} samples"
        return found[0]


def parse(text: str) -> dict[str, Family]:
    """Families by name; samples of histograms/summaries attach to their family."""
    families: dict[str, Family] = {}
    current: Family | None = None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            current = families.setdefault(name, Family(name))
            current.type = typ
            continue
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match is not None, f"bad exposition line: {line!r}"
        name, raw, value = match.groups()
        labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
                  for k, v in _LABEL.findall(raw or "")}
        owner = current if current is not None and name.startswith(current.name) else None
        if owner is None:
            owner = families.setdefault(name, Family(name))
        owner.samples.append((name, labels, float(value)))
    return families
