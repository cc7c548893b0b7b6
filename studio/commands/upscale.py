"""`studio upscale`: super-resolution of one image from the command line, tile by tile."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from studio.commands.common import SEED_HELP, add_output_args

if TYPE_CHECKING:
    from studio.commands.destinations import OutputPlan
    from studio.core.upscale import UpscaleRequest


def add_upscale_options(p: argparse.ArgumentParser) -> None:
    """The upscaler and its settings, shared by `studio upscale` and `studio batch upscale`."""
    p.add_argument("--scale", type=int, choices=(2, 4), default=4, help="upscale factor")
    p.add_argument("--model", "-m", default=None,
                   help="sr (the built-in SR model, default), lanczos, an SD x4 upscaler "
                        "folder, an SR model folder, or a model file (needs spandrel)")
    p.add_argument("--tile", type=int, default=0, help="tile size in source px (0: automatic)")
    p.add_argument("--overlap", type=int, default=-1, help="tile overlap in px (-1: automatic)")
    p.add_argument("--steps", type=int, default=20, help="denoising steps (SD x4 only)")
    p.add_argument("--noise-level", type=int, default=20, help="noise level (SD x4 only)")
    p.add_argument("--guidance", type=float, default=7.0, help="CFG scale (SD x4 only)")
    p.add_argument("--prompt", "-p", default="", help="prompt (SD x4 only)")
    p.add_argument("--seed", type=int, default=0, help=f"{SEED_HELP} (SD x4 only)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("upscale", help="upscale an image 2x or 4x (tiled, seamless)")
    p.add_argument("--image", "-i", type=Path, required=True, help="input image (any format)")
    add_upscale_options(p)
    add_output_args(p, "output PNG")
    p.set_defaults(func=run_upscale_command)


def _build_request(args: argparse.Namespace) -> UpscaleRequest:
    from studio.commands.common import check_text, input_file, resolve_seed
    from studio.core.upscale import make_request, open_source
    from studio.core.upscaler_catalog import resolve_upscaler

    input_file(args.image, "input image")
    source = open_source(args.image)  # ImageReadError (a ValueError) says why it is unusable
    if args.model is not None:
        check_text(args.model, "--model")
    choice = resolve_upscaler(args.model)
    if not choice.available:
        raise ValueError(f"upscaler {choice.name} is not available: {choice.note}")
    request = make_request(
        source, kind=choice.kind, model_path=choice.path, model_name=choice.name,
        scale=args.scale, tile=args.tile, overlap=args.overlap, steps=args.steps,
        noise_level=args.noise_level, guidance=args.guidance,
        prompt=check_text(args.prompt, "--prompt"), seed=resolve_seed(args.seed),
        source_name=args.image.name,
    )
    request.validate()
    return request


def _prepare(args: argparse.Namespace) -> tuple[UpscaleRequest, OutputPlan]:
    from studio.commands.destinations import OutputPlan, batch_targets, check_name, check_plan

    check_name(args.output)
    request = _build_request(args)
    plan = OutputPlan(batch_targets(args.output, 1), args.overwrite, protected=(args.image,))
    check_plan(plan, bytes_needed=request.output_width * request.output_height * 4)
    return request, plan


def run_upscale_command(args: argparse.Namespace) -> int:
    from studio.commands.backend_run import ProgressPrinter, run_with_backend
    from studio.commands.common import fail
    from studio.commands.path_saver import PathSaver

    try:
        request, plan = _prepare(args)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    count, per_tile = request.tile_count(), request.steps_per_tile()

    def describe(step: int, total: int, index: int) -> str:
        tile = min(count, step // per_tile + (step % per_tile > 0))
        return f"{args.image.name} x{request.scale}, tile {max(tile, 1)}/{count}"

    saver = PathSaver(plan)
    printer = ProgressPrinter(saver, describe, unit="tile" if per_tile == 1 else "step")
    return run_with_backend(request, saver, args.device, printer)
