"""`studio generate`: text-to-image from the command line, through the engine backend."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from studio.commands.common import SEED_HELP, add_output_args
from studio.core.requests import SCHEDULER_NAMES

if TYPE_CHECKING:
    from studio.commands.destinations import OutputPlan
    from studio.core.requests import GenerateRequest


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="generate images from a text prompt")
    p.add_argument("--prompt", "-p", default="",
                   help="text prompt (empty prompt + --guidance 1 = unconditioned)")
    p.add_argument("--negative", "-n", default="", help="negative prompt")
    p.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale")
    p.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    p.add_argument("--width", type=int, help="width in px (default: the model's native size)")
    p.add_argument("--height", type=int, help="height in px")
    p.add_argument("--scheduler", choices=SCHEDULER_NAMES, help="sampler")
    p.add_argument("--model", help="model name or diffusers folder (default: the built-in)")
    p.add_argument("--batch", type=int, default=1, help="number of images (seeds seed..seed+N-1)")
    add_output_args(p, "output PNG; with --batch N, NAME-1.png … NAME-N.png")
    p.add_argument("--upscale", type=int, choices=(2, 4),
                   help="also write NAME-x2/x4.png, upscaled (cascade like Imagen's)")
    p.add_argument("--upscaler", default=None,
                   help="for --upscale: sr (the built-in SR model, default), lanczos, or an "
                        "upscaler folder/file as for `studio upscale`")
    p.add_argument("--hires-scale", type=float, default=1.0, metavar="X",
                   help="Hires. fix: generate at --width×--height, enlarge X times (Lanczos) "
                        "and redraw the details with a second img2img pass (1 = off, up to 4)")
    p.add_argument("--hires-strength", type=float, default=0.5, metavar="S",
                   help="Hires. fix: the second pass's denoising strength, in (0, 1] "
                        "(default 0.5)")
    p.add_argument("--hires-steps", type=int, default=0, metavar="N",
                   help="Hires. fix: the second pass's steps (default: same as --steps)")
    p.add_argument("--skip-bad-loras", action="store_true",
                   help="a <lora:NAME:w> tag whose LoRA is missing or does not fit the model: "
                        "generate without it (default: fail with the reason)")
    p.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from studio.commands.common import fail

    try:
        request, plan = _prepare(args)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    return _run(request, plan, args.device)


def _prepare(args: argparse.Namespace) -> tuple[GenerateRequest, OutputPlan]:
    """The request and where its images go, all checked before any work."""
    from dataclasses import replace

    from studio.commands.common import check_text, load_entry, make_request
    from studio.commands.destinations import OutputPlan, batch_targets, check_name, check_plan

    check_name(args.output)
    entry = load_entry(args.model)
    if args.upscaler is not None:
        check_text(args.upscaler, "--upscaler")
    request = replace(make_request(args, entry), upscale_by=args.upscale or 1,
                      upscaler=args.upscaler or "", skip_bad_loras=args.skip_bad_loras,
                      hires_scale=args.hires_scale, hires_strength=args.hires_strength,
                      hires_steps=args.hires_steps)
    request.validate()
    if args.upscale:
        _check_upscaler(args.upscaler)  # a missing upscaler fails before generating
    plan = OutputPlan(batch_targets(args.output, request.batch_count), args.overwrite,
                      upscale_by=request.upscale_by)
    width, height = request.output_size
    pixels = width * height * (1 + request.upscale_by**2)
    check_plan(plan, bytes_needed=pixels * 4 * request.batch_count)
    return request, plan


def _check_upscaler(spec: str | None) -> None:
    from studio.core.upscaler_catalog import resolve_upscaler

    choice = resolve_upscaler(spec)
    if not choice.available:
        raise ValueError(f"upscaler {choice.name} is not available: {choice.note}")


def _run(request: GenerateRequest, plan: OutputPlan, device: str) -> int:
    from studio.commands.backend_run import ProgressPrinter, run_with_backend
    from studio.commands.path_saver import PathSaver

    count = request.batch_count

    def describe(step: int, total: int, index: int) -> str:
        image = f"image {index + 1}/{count}, " if count > 1 else ""
        return f"{image}seed {(request.seed + index) % 2**32}"

    saver = PathSaver(plan)
    return run_with_backend(request, saver, device, ProgressPrinter(saver, describe))
