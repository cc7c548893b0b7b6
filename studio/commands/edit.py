"""`studio img2img` and `studio inpaint`: edit an image from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.core.requests import SCHEDULER_NAMES, JobKind


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", "-i", type=Path, required=True, help="source image")
    p.add_argument("--prompt", "-p", default="", help="what the result should show")
    p.add_argument("--negative", "-n", default="", help="negative prompt")
    p.add_argument("--strength", type=float, help="how much to change, (0, 1]")
    p.add_argument("--steps", type=int)
    p.add_argument("--guidance", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scheduler", choices=SCHEDULER_NAMES)
    p.add_argument("--model", help="model name or diffusers folder (default: the built-in)")
    p.add_argument("--work-size", type=int, help="long side the model works at (default: native)")
    p.add_argument("--output", "-o", type=Path, required=True, help="output PNG")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")


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
    from studio.commands.common import fail, load_entry, make_request, run_edit_request
    from studio.core.models import native_resolution

    for label, path in (("image", args.image), ("mask", getattr(args, "mask", None))):
        if path is not None and not path.is_file():
            return fail(f"{label} file not found: {path}")
    if args.output.suffix.lower() != ".png":
        return fail(f"--output must be a .png file (got {args.output})")
    try:
        entry = load_entry(args.model)
        args.batch = 1
        args.width, args.height = _image_size(args.image)
        extra: dict[str, object] = dict(
            init_image=args.image.read_bytes(),
            strength=args.strength if args.strength is not None
            else (1.0 if kind is JobKind.INPAINT else 0.6),
            work_resolution=args.work_size or native_resolution(entry.path) or 512,
        )
        if kind is JobKind.INPAINT:
            extra.update(mask_image=args.mask.read_bytes(), mask_blur=args.mask_blur,
                         only_masked=not args.whole_picture, mask_padding=args.padding)
        request = make_request(args, entry, kind, **extra)
        request.validate()
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    return run_edit_request(request, args.output, args.device)


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc


if __name__ == "__main__":
    sys.exit(0)
