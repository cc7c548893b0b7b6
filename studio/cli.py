"""Command line: `studio` opens the GUI; subcommands run jobs headless."""

from __future__ import annotations

import argparse
import importlib
import sys

from studio.engine.device import configure_process_env

# Each module exposes `register(subparsers)`, which adds its subcommands and sets `func`.
# Registering imports nothing heavy (no torch, diffusers, transformers): `studio --help` and
# argument errors answer at once; each command imports what it needs when it runs.
_COMMAND_MODULES = (
    "studio.commands.generate",
    "studio.commands.edit",
    "studio.commands.outpaint",
    "studio.commands.upscale",
    "studio.commands.batch",
    "studio.training.commands",
    "studio.data.commands",
    "studio.commands.serve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # First of all: torch and transformers read these settings (OpenMP wait policy, library
    # log levels) only when imported, and any command may import them.
    configure_process_env()
    args_list = sys.argv[1:] if argv is None else argv
    if not args_list:
        from studio.app import run_gui

        return run_gui()
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
