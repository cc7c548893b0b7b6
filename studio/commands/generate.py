"""`studio generate`: text-to-image from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.core.requests import SCHEDULER_NAMES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="generate images from a text prompt")
    p.add_argument("--prompt", "-p", default="",
                   help="text prompt (empty prompt + --guidance 1 = unconditioned)")
    p.add_argument("--negative", "-n", default="", help="negative prompt")
    p.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale")
    p.add_argument("--seed", type=int, default=0, help="seed; same seed gives the same pixels")
    p.add_argument("--width", type=int, help="width in px (default: the model's native size)")
    p.add_argument("--height", type=int, help="height in px")
    p.add_argument("--scheduler", choices=SCHEDULER_NAMES, help="sampler")
    p.add_argument("--model", help="model name or diffusers folder (default: the built-in)")
    p.add_argument("--batch", type=int, default=1, help="number of images (seeds seed..seed+N-1)")
    p.add_argument("--output", "-o", type=Path, required=True,
                   help="output PNG; with --batch N, NAME-1.png … NAME-N.png")
    p.add_argument("--upscale", type=int, choices=(2, 4),
                   help="also write NAME-x2/x4.png, upscaled (cascade like Imagen's)")
    p.add_argument("--upscaler", default=None,
                   help="for --upscale: sr (the built-in SR model, default), lanczos, or an "
                        "upscaler folder/file as for `studio upscale`")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from studio.commands.common import fail, load_entry, make_request, run_request
    from studio.core.upscaler_catalog import resolve_upscaler

    try:
        entry = load_entry(args.model)
        request = replace(make_request(args, entry), upscale_by=args.upscale or 1,
                          upscaler=args.upscaler or "")
        request.validate()
        if args.upscale:
            resolve_upscaler(args.upscaler)  # a missing upscaler fails before generating
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    if args.output.suffix.lower() != ".png":
        return fail(f"--output must be a .png file (got {args.output})")
    paths = [_numbered(args.output, i, request.batch_count) for i in range(request.batch_count)]
    return run_request(request, paths, args.device)


def _numbered(path: Path, index: int, count: int) -> Path:
    return path if count == 1 else path.with_name(f"{path.stem}-{index + 1}{path.suffix}")


if __name__ == "__main__":
    sys.exit(0)
