"""MIGRATING.md, generated from the tables that the tests hold the exporters to.

Sources: MIGRATING.yaml (the deliberate differences from the target versions and the flags whose
Debian defaults differ), tests/{node,postgres,redis}/version_differences.py (what changed
between the Go versions Debian packages and the target versions) and the node exporter's
NOT_PROVIDED collectors. ``python -m tests.deploy.migrating --write`` rewrites MIGRATING.md;
test_migrating.py fails when the file and the tables disagree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from tests.conftest import REPO

TABLE = REPO / "MIGRATING.yaml"
OUTPUT = REPO / "MIGRATING.md"
KINDS = ("node", "postgres", "redis")
DEBIAN = {"bookworm": "Debian 12", "trixie": "Debian 13"}


@dataclass(frozen=True)
class VersionRow:
    """One difference between a Go version Debian packages and the target version."""

    exporter: str
    generation: str  # bookworm or trixie
    kind: str  # added, removed, changed, labels, help, ...
    metrics: str
    what: str
    why: str


def load_table() -> dict[str, Any]:
    table: dict[str, Any] = yaml.safe_load(TABLE.read_text())
    return table


def node_rows() -> list[VersionRow]:
    from tests.node import version_differences as vd

    rows = []
    for d in vd.DIFFERENCES:
        labels = "".join(f"{{{k}=~\"{v}\"}}" for k, v in getattr(d, "labels", {}).items())
        why = f"{d.why} ({d.upstream})" if getattr(d, "upstream", "") else d.why
        rows.append(VersionRow("node", getattr(d, "reference", "bookworm"), d.kind, d.name + labels, d.what, why))
    for h in getattr(vd, "HELP_DIFFERENCES", ()):
        rows.append(VersionRow("node", getattr(h, "generation", "bookworm"), "help", h.family,
                               f'HELP "{h.reference}" is now "{h.target}"', h.upstream))
    return rows


def postgres_rows() -> list[VersionRow]:
    from tests.postgres import version_differences as vd

    rows = []
    for d in vd.DIFFERENCES:
        what = d.what
        if d.dropped or d.new:
            changes = [f"-{label}" for label in sorted(d.dropped)] + [f"+{label}" for label in sorted(d.new)]
            what = f"{what} (labels {' '.join(changes)})"
        rows.append(VersionRow("postgres", getattr(d, "reference", "bookworm"), d.kind, d.name, what, d.why))
    return rows


def redis_rows() -> list[VersionRow]:
    from tests.redis import version_differences as vd

    tables = (("ONLY_IN_OURS", "added", "new in the target"), ("ONLY_IN_REFERENCE", "removed", "gone in the target"),
              ("VALUE_DIFFERENCES", "values", "values differ"), ("LABEL_DIFFERENCES", "labels", "labels differ"),
              ("HELP_DIFFERENCES", "help", "help text differs"))
    rows = []
    for name, kind, what in tables:
        for family, why in getattr(vd, name, {}).items():
            rows.append(VersionRow("redis", "bookworm", kind, family, what, why))
    return rows


def version_rows() -> list[VersionRow]:
    return node_rows() + postgres_rows() + redis_rows()


def redis_deliberate() -> list[dict[str, Any]]:
    """tests/redis/version_differences.py's DELIBERATE: ours unlike redis_exporter 1.58.0 itself."""
    from tests.redis import version_differences as vd

    return [{"exporter": "redis", "difference": f"`{family}`: {text}", "why": None, "change": "nothing",
             "restore": None} for family, text in getattr(vd, "DELIBERATE", {}).items()]


def not_provided() -> dict[str, str]:
    from exporters.node.main import NOT_PROVIDED

    return dict(NOT_PROVIDED)


def cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    if value is None:
        return "-"
    text = " ".join(str(value).split())
    return text.replace("|", "\\|") or "-"


def code(value: object) -> str:
    return "(none)" if value in (None, "") else f"`{cell(value)}`"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def deliberate_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    return table(["difference", "why", "what to change", "upstream's behaviour back"],
                 [[cell(r["difference"]), cell(r["why"]), cell(r["change"]),
                   code(r["restore"]) if r["restore"] else "-"] for r in rows])


def render(data: dict[str, Any] | None = None, versions: Sequence[VersionRow] | None = None,
           missing: dict[str, str] | None = None, redis_extra: Sequence[dict[str, Any]] | None = None) -> str:
    data = data if data is not None else load_table()
    versions = version_rows() if versions is None else versions
    missing = not_provided() if missing is None else missing
    redis_extra = redis_deliberate() if redis_extra is None else redis_extra
    exporters = data["exporters"]
    deliberate = [*data["deliberate"], *redis_extra]
    out = [
        "# Migrating from the Go exporters",
        "",
        "<!-- Generated by `python -m tests.deploy.migrating --write` from MIGRATING.yaml,",
        "     tests/*/version_differences.py and exporters/node/main.py; edit those, not this file. -->",
        "",
        "Ours follows " + ", ".join(f"{e['upstream']} {e['target']}" for e in exporters.values())
        + ": metric names, types, labels, flags, environment variables, ports and wire format are "
        "theirs. Swap the executable (`node_exporter`, `postgres_exporter`, `redis_exporter`, "
        "installed by `pip install`), the container image (deploy/container/Dockerfile's targets, with "
        "upstream's entrypoint path, user and port) or the systemd unit, and keep everything else. "
        "Below is every difference a user can see: where ours deliberately differs from the target "
        "version, what changes when coming from the version Debian 12 or Debian 13 packages, and the "
        "flags whose defaults Debian's packages change.",
        "",
        "## All three exporters",
        "",
        *deliberate_table([r for r in deliberate if r["exporter"] == "all"]),
    ]
    for kind in KINDS:
        meta = exporters[kind]
        name, target = meta["upstream"], meta["target"]
        out += [f"## {name}", "", f"### Deliberate differences from {name} {target}", ""]
        rows = [r for r in deliberate if r["exporter"] == kind]
        out += deliberate_table(rows) if rows else ["None beyond the ones for all three.", ""]
        if kind == "node" and missing:
            out += ["### Collectors not provided", "",
                    "Off by default upstream; `--collector.NAME` for one of these stops the start with an error "
                    "naming it, `--no-collector.NAME` is accepted.", ""]
            out += table(["collector", "why"], [[f"`{c}`", cell(why)] for c, why in sorted(missing.items())])
        flags = [r for r in data["debian_defaults"] if r["exporter"] == kind]
        out += ["### Flags whose defaults differ from Debian's package", ""]
        if flags:
            header = ["flag", *(f"{DEBIAN[g]} ({v})" for g, v in meta["debian"].items()), f"ours ({target})",
                      "to keep Debian's behaviour"]
            out += table(header, [[f"`{r['flag']}`", *(code(r["debian"].get(g)) for g in meta["debian"]),
                                   code(r["ours"]), cell(r["change"])] for r in flags])
        else:
            out += ["None: Debian's packages keep upstream's defaults.", ""]
        for generation, version in meta["debian"].items():
            rows_v = [v for v in versions if v.exporter == kind and v.generation == generation]
            if not rows_v:
                continue
            out += [f"### Coming from {name} {version} ({DEBIAN[generation]})", "",
                    f"What {target} (and so ours) does differently from {version}; nothing to change unless a "
                    "rule or dashboard uses what is gone.", ""]
            out += table(["metrics", "change", "what", "why"],
                         [[f"`{cell(v.metrics)}`", v.kind, cell(v.what), cell(v.why)] for v in rows_v])
    return "\n".join(out).rstrip() + "\n"


def fold_row(line: str) -> dict[str, Any] | None:
    """`exporter | difference | why | flag to restore` (the restore cell "none ..." when there is
    none) -> a deliberate row; None for a line that is not one."""
    parts = [part.strip() for part in line.split(" | ")]
    if len(parts) != 4 or parts[0] not in ("all", *KINDS):
        return None
    exporter, difference, why, restore = parts
    if restore.lower().startswith("none"):
        note = restore[len("none"):].strip(" ()")
        return {"exporter": exporter, "difference": difference, "why": why,
                "change": f"nothing ({note})" if note else "nothing", "restore": None}
    return {"exporter": exporter, "difference": difference, "why": why, "change": "nothing", "restore": restore}


def fold(lines: Iterable[str]) -> int:
    """Append the rows of ``lines`` that MIGRATING.yaml lacks (same exporter and difference); the count."""
    text = TABLE.read_text()
    header = text[:text.index("\nexporters:") + 1]
    data = load_table()
    known = {(row["exporter"], row["difference"]) for row in data["deliberate"]}
    added = 0
    for line in lines:
        row = fold_row(line)
        if row and (row["exporter"], row["difference"]) not in known:
            data["deliberate"].append(row)
            known.add((row["exporter"], row["difference"]))
            added += 1
    TABLE.write_text(header + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True))
    return added


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.deploy.migrating", description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite MIGRATING.md (default: print it)")
    parser.add_argument("--fold", metavar="FILE", help="first append to MIGRATING.yaml the deliberate differences "
                        "of FILE, one per line: `exporter | difference | why | flag to restore` (or `none`)")
    args = parser.parse_args(argv)
    if args.fold:
        with open(args.fold, encoding="utf-8") as lines:
            sys.stderr.write(f"{fold(lines)} rows added to {TABLE.name}\n")
    text = render()
    if args.write:
        OUTPUT.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
