"""``exporters``: one command, one subcommand per exporter."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from exporters import __version__

SUBCOMMANDS = {
    "node": ("exporters.node.main", "node_exporter replacement (port 9100)"),
    "postgres": ("exporters.postgres.main", "postgres_exporter replacement (port 9187)"),
    "redis": ("exporters.redis.main", "redis_exporter replacement (port 9121)"),
}

USAGE = "usage: exporters {node,postgres,redis} [flags...]   (exporters SUBCOMMAND --help for its flags)\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        for name, (_module, text) in SUBCOMMANDS.items():
            sys.stdout.write(f"  {name:<9} {text}\n")
        return 0 if args else 2
    if args[0] == "--version":
        sys.stdout.write(f"exporters {__version__}\n")
        return 0
    name = args[0]
    if name not in SUBCOMMANDS:
        sys.stderr.write(f"exporters: error: unknown subcommand {name!r}\n{USAGE}")
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    result: int = module.main(args[1:])
    return result


if __name__ == "__main__":
    sys.exit(main())
