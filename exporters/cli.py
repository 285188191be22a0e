"""``exporters``: one command, one subcommand per exporter."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

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
    # Start-up allocates much and frees little: no cyclic collection while the modules load and
    # the exporter is built; exporters.core.app.serve enables it again once it has frozen all that.
    gc.disable()
    try:
        module = importlib.import_module(SUBCOMMANDS[name][0])
        result: int = module.main(args[1:])
    finally:
        gc.enable()
    return result


def exit_process(code: int) -> NoReturn:
    """End the process now with ``code``.

    A collector thread stuck in a system call (statfs on a hung NFS mount) can never be
    joined, and the interpreter's normal exit would wait for it forever; a daemon that was
    asked to stop must stop. Logs go to stderr unbuffered, so nothing is lost.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run() -> NoReturn:
    """The ``exporters`` console script."""
    exit_process(main())


def node_exporter() -> NoReturn:
    """The ``node_exporter`` console script: the upstream binary's name, its flags."""
    exit_process(main(["node", *sys.argv[1:]]))


def postgres_exporter() -> NoReturn:
    """The ``postgres_exporter`` console script."""
    exit_process(main(["postgres", *sys.argv[1:]]))


def redis_exporter() -> NoReturn:
    """The ``redis_exporter`` console script."""
    exit_process(main(["redis", *sys.argv[1:]]))


if __name__ == "__main__":
    run()
