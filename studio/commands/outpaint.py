"""`studio outpaint`: extend an image on any side and let the model fill the new area."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from studio.commands.edit import _common
from studio.core.outpaint_sides import FILL_MODES

if TYPE_CHECKING:
    from studio.commands.destinations import OutputPlan
    from studio.core.requests import GenerateRequest



def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("outpaint", help="extend an image on any side (outpainting)")
    _common(p)
    for side in ("left", "right", "top", "bottom"):
        p.add_argument(f"--{side}", type=int, default=0, metavar="PX",
                       help=f"pixels to add on the {side} (0–2048)")
    p.add_argument("--fill", choices=FILL_MODES, default=None,
                   help="pre-fill of the new area before generating (default: edge; model "
                        "with --fill-model)")
    p.add_argument("--fill-model", type=Path, default=None, metavar="FILE",
                   help="an inpainting model file (LaMa, MAT; needs the optional spandrel "
                        "package) that paints the new area first")
    p.add_argument("--mask-blur", type=float, default=4.0, help="feather radius in px")
    p.add_argument("--padding", type=int, default=64,
                   help="context of the old image around the new area")
    p.set_defaults(func=run_outpaint_command)


def run_outpaint_command(args: argparse.Namespace) -> int:
    from studio.commands.backend_run import ProgressPrinter, run_with_backend
    from studio.commands.common import fail
    from studio.commands.path_saver import PathSaver

    try:
        request, plan = _prepare(args)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    saver = PathSaver(plan)
    printer = ProgressPrinter(saver, lambda step, total, index: f"outpaint seed {request.seed}")
    return run_with_backend(request, saver, args.device, printer)


def _prepare(args: argparse.Namespace) -> tuple[GenerateRequest, OutputPlan]:
    """The request and its destination, every input checked before any work."""
    from studio.commands.common import input_file, load_entry, make_request, positive
    from studio.commands.destinations import OutputPlan, batch_targets, check_name, check_plan
    from studio.commands.edit import _image_size
    from studio.core.models import native_resolution
    from studio.core.outpaint import Sides, check_outpaint
    from studio.core.requests import JobKind

    check_name(args.output)
    sides = Sides(args.left, args.right, args.top, args.bottom)
    fill = args.fill or ("model" if args.fill_model else "edge")
    check_outpaint(sides, fill)
    if (fill == "model") != (args.fill_model is not None):
        raise ValueError("--fill model and --fill-model FILE go together")
    fill_model = (str(input_file(args.fill_model, "--fill-model").resolve())
                  if args.fill_model else "")
    source = input_file(args.image, "image")
    args.batch = 1
    args.width, args.height = _image_size(args.image)
    entry = load_entry(args.model)
    work = positive(args.work_size, "--work-size")
    request = make_request(
        args, entry, JobKind.INPAINT, init_image=args.image.read_bytes(),
        strength=args.strength if args.strength is not None else 1.0,
        work_resolution=work if work is not None else native_resolution(entry.path) or 512,
        mask_blur=args.mask_blur, only_masked=True, mask_padding=args.padding,
        outpaint_left=sides.left, outpaint_right=sides.right, outpaint_top=sides.top,
        outpaint_bottom=sides.bottom, outpaint_fill=fill, outpaint_fill_model=fill_model)
    request.validate()
    width, height = sides.extended_size((args.width, args.height))
    plan = OutputPlan(batch_targets(args.output, 1), args.overwrite, protected=(source,),
                      sidecar_suffixes=(".mask.png",))
    check_plan(plan, bytes_needed=width * height * 5)
    return request, plan
