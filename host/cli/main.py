"""Entry point of the ``airlock`` console command.

Each subcommand group lives in its own module in this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
namespace and returning the exit status). Modules are found by scanning this package, so adding a
command group is adding one file. Errors of the :class:`host.errors.AirlockError` tree
are printed for people and exit with status 2 (usage) unless the command chose another code.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from host import __version__
from host.errors import AirlockError

EXIT_USAGE = 2


def command_modules() -> list[str]:
    """Names of the modules in this package that define a subcommand group."""
    package = importlib.import_module("host.cli")
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if info.name not in {"main", "common"} and not info.name.startswith("_")
    )


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand group registered."""
    parser = argparse.ArgumentParser(
        prog="airlock",
        description="Airlock: an AI agent host where the model plans and policy decides.",
    )
    parser.add_argument("--version", action="version", version=f"airlock {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in command_modules():
        module = importlib.import_module(f"host.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``airlock`` with ``argv`` and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except AirlockError as exc:
        print(f"airlock: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
