"""`studio img2img` and `studio inpaint`: edit an image from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from studio.commands.common import SEED_HELP, add_output_args
from studio.core.requests import SCHEDULER_NAMES, JobKind

if TYPE_CHECKING:
    from studio.commands.destinations import OutputPlan
    from studio.core.requests import GenerateRequest

def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", "-i", type=Path, required=True, help="source image")
    p.add_argument("--prompt", "-p", default="", help="what the result should show")
    p.add_argument("--negative", "-n", default="", help="negative prompt")
    p.add_argument("--strength", type=float,
                   help="how much to change, (0, 1]; strength × steps must reach 1")
    p.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    p.add_argument("--guidance", type=float)
    p.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    p.add_argument("--scheduler", choices=SCHEDULER_NAMES)
    p.add_argument("--model", help="model name or diffusers folder (default: the built-in)")
    p.add_argument("--work-size", type=int, help="long side the model works at (default: native)")
    add_output_args(p, "output PNG (inpaint also writes NAME.mask.png)")


def register(subparsers: argparse._SubParsersAction) -> None:
    img2img = subparsers.add_parser("img2img", help="re-imagine an image guided by a prompt")
    _common(img2img)
    img2img.set_defaults(func=lambda a: run_edit_command(a, JobKind.IMG2IMG))
    inpaint = subparsers.add_parser("inpaint", help="repaint the white area of a mask")
    _common(inpaint)
    inpaint.add_argument("--mask", "-m", type=Path, required=True,
                         help="mask PNG of the same size: white = repaint")
    inpaint.add_argument("--mask-blur", type=float, default=4.0, help="feather radius in px")
    inpaint.add_argument("--whole-picture", action="store_true",
                         help="process the whole image instead of a crop around the mask")
    inpaint.add_argument("--padding", type=int, default=32, help="context around the mask")
    inpaint.set_defaults(func=lambda a: run_edit_command(a, JobKind.INPAINT))


def run_edit_command(args: argparse.Namespace, kind: JobKind) -> int:
    from studio.commands.backend_run import ProgressPrinter, run_with_backend
    from studio.commands.common import fail
    from studio.commands.path_saver import PathSaver

    try:
        request, plan = _prepare(args, kind)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    saver = PathSaver(plan)
    printer = ProgressPrinter(saver, lambda step, total, index: f"{kind.value} seed "
                                                                f"{request.seed}")
    return run_with_backend(request, saver, args.device, printer)


def _prepare(args: argparse.Namespace, kind: JobKind) -> tuple[GenerateRequest, OutputPlan]:
    """The request and its destination, every input checked before any work."""
    from studio.commands.common import input_file, load_entry, make_request, positive
    from studio.commands.destinations import OutputPlan, batch_targets, check_name, check_plan
    from studio.core.models import native_resolution

    check_name(args.output)
    sources = [input_file(args.image, "image")]
    if kind is JobKind.INPAINT:
        sources.append(input_file(args.mask, "mask"))
    args.batch = 1
    args.width, args.height = _image_size(args.image)
    entry = load_entry(args.model)
    work = positive(args.work_size, "--work-size")
    extra: dict[str, object] = dict(
        init_image=args.image.read_bytes(),
        strength=args.strength if args.strength is not None
        else (1.0 if kind is JobKind.INPAINT else 0.6),
        work_resolution=work if work is not None else native_resolution(entry.path) or 512,
    )
    if kind is JobKind.INPAINT:
        extra.update(mask_image=args.mask.read_bytes(), mask_blur=args.mask_blur,
                     only_masked=not args.whole_picture, mask_padding=args.padding)
    request = make_request(args, entry, kind, **extra)
    request.validate()
    if kind is JobKind.INPAINT:
        _check_mask(args.mask, (args.width, args.height))
    plan = OutputPlan(batch_targets(args.output, 1), args.overwrite, protected=tuple(sources),
                      sidecar_suffixes=(".mask.png",) if kind is JobKind.INPAINT else ())
    check_plan(plan, bytes_needed=args.width * args.height * 5)
    return request, plan


def _image_size(path: Path) -> tuple[int, int]:
    """The upright size of a readable source image (ValueError saying why it is unusable)."""
    from studio.core.images import open_image

    return open_image(path, "image").size


def _check_mask(path: Path, size: tuple[int, int]) -> None:
    """The mask must be readable, match the image and have something to repaint (as the engine
    checks: the same decoding and the same threshold)."""
    from studio.core.images import open_image
    from studio.core.inpaint import check_mask, mask_to_array

    check_mask(mask_to_array(open_image(path, "mask"), size))
