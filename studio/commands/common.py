"""Shared plumbing for headless commands: arguments, checks, model lookup, requests.

Importing this module is cheap (no torch, no PIL): `studio --help` goes through it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from studio.core.models import ModelEntry
    from studio.core.requests import GenerateRequest, JobKind

RANDOM_SEED = -1
SEED_HELP = "seed; the same seed gives the same pixels (default 0; -1: a random one, printed)"
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    say(f"studio: error: {message}", sys.stderr)
    return code


def say(text: str, stream: TextIO | None = None) -> None:
    """Print one line; names with undecodable bytes (from argv) are written as those bytes."""
    stream = stream or sys.stdout
    try:
        print(text, file=stream, flush=True)
    except UnicodeEncodeError:
        raw = os.fsencode(text) + b"\n"
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream.flush()
            buffer.write(raw)
            buffer.flush()
        else:
            print(text.encode("utf-8", "backslashreplace").decode("ascii", "replace"),
                  file=stream, flush=True)


def add_output_args(p: argparse.ArgumentParser, output_help: str) -> None:
    p.add_argument("--output", "-o", type=Path, required=True, help=output_help)
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --output (atomically; never an input image). "
                        "Without it a taken name is kept and the next free numbered name "
                        "(NAME-2.png, NAME-3.png, …) is written instead")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")


def positive(value: int | None, flag: str) -> int | None:
    """None (not given: the model's default) or a positive number; 0 and below are errors."""
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be at least 1 (got {value}); leave it out for the "
                         "model's default")
    return value


def check_text(value: str, flag: str) -> str:
    """Text from argv must be valid UTF-8 (bad bytes arrive as surrogate escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{flag} is not valid UTF-8 (an undecodable byte at character "
                         f"{exc.start}); check the terminal's encoding") from None
    if "\0" in value:
        raise ValueError(f"{flag} contains a NUL character")
    return value


def resolve_seed(seed: int) -> int:
    """-1 picks a random seed and prints it (A1111 style); others are used as given."""
    if seed != RANDOM_SEED:
        return seed
    chosen = secrets.randbelow(2**32)
    say(f"studio: seed {chosen}", sys.stderr)
    return chosen


def load_entry(spec: str | None) -> ModelEntry:
    from studio.core.models import ModelRegistry, resolve_model

    registry = ModelRegistry()
    if spec:
        check_text(spec, "--model")
        return resolve_model(spec, registry)
    entry = registry.default()
    if entry is None:
        raise FileNotFoundError(registry.describe_search())
    return entry


def make_request(args: argparse.Namespace, entry: ModelEntry, kind: JobKind | None = None,
                 **extra: object) -> GenerateRequest:
    """The frozen request for `args`; options left out take the model's defaults."""
    from studio.core.models import model_defaults, native_resolution
    from studio.core.prompts import expand_prompt, load_expansions
    from studio.core.requests import GenerateRequest, JobKind

    defaults = model_defaults(entry.path)
    native = native_resolution(entry.path) or 512
    steps = positive(args.steps, "--steps")
    width = positive(getattr(args, "width", None), "--width")
    height = positive(getattr(args, "height", None), "--height")
    return GenerateRequest(
        model_path=str(entry.path), model_name=entry.name,
        prompt=expand_prompt(check_text(args.prompt, "--prompt"), load_expansions(entry.path)),
        negative_prompt=check_text(args.negative, "--negative"),
        steps=steps if steps is not None else int(defaults.get("steps", 25)),
        guidance=args.guidance if args.guidance is not None
        else float(defaults.get("guidance", 7.0)),
        seed=resolve_seed(args.seed),
        width=width if width is not None else native,
        height=height if height is not None else native,
        scheduler=args.scheduler or str(defaults.get("scheduler", "Euler a")),
        batch_count=getattr(args, "batch", 1), kind=kind or JobKind.TXT2IMG, **extra,
    )


def input_file(path: Path, label: str) -> Path:
    """An input that must be an existing file; FileNotFoundError says which one."""
    if "\0" in str(path):
        raise FileNotFoundError(f"{label} file not found: {str(path)!r} (contains a NUL byte)")
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "not found"
        raise FileNotFoundError(f"{label} file {what}: {path}")
    return path
