"""`studio upscale`: super-resolution of one image from the command line, tile by tile."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("upscale", help="upscale an image 2x or 4x (tiled, seamless)")
    p.add_argument("--image", "-i", type=Path, required=True, help="input image (any format)")
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
    p.add_argument("--seed", type=int, default=0, help="seed (SD x4 only)")
    p.add_argument("--output", "-o", type=Path, required=True, help="output PNG")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.set_defaults(func=run_upscale_command)


def _build_request(args: argparse.Namespace):  # noqa: ANN202
    from PIL import Image, UnidentifiedImageError

    from studio.core.upscale import make_request, open_source
    from studio.core.upscaler_catalog import resolve_upscaler

    if args.output.suffix.lower() != ".png":
        raise ValueError(f"--output must be a .png file (got {args.output})")
    if not args.image.is_file():
        raise FileNotFoundError(f"input image not found: {args.image}")
    try:
        source = open_source(args.image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"cannot read {args.image} as an image: {exc}") from exc
    choice = resolve_upscaler(args.model)
    request = make_request(
        source, kind=choice.kind, model_path=choice.path, model_name=choice.name,
        scale=args.scale, tile=args.tile, overlap=args.overlap, steps=args.steps,
        noise_level=args.noise_level, guidance=args.guidance, prompt=args.prompt,
        seed=args.seed, source_name=args.image.name,
    )
    request.validate()
    return request


def run_upscale_command(args: argparse.Namespace) -> int:
    from studio.commands.common import fail
    from studio.engine.device import configure_process_env

    try:
        request = _build_request(args)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    configure_process_env()
    from tqdm import tqdm

    from studio.core.outputs import write_png_atomic
    from studio.core.upscale import upscale_infotext
    from studio.engine.device import apply_threads, plan_device
    from studio.engine.pipelines import ModelLoadError
    from studio.engine.runner import JobControl
    from studio.engine.upscale_job import upscale_image
    from studio.engine.upscalers import load_upscaler

    plan = plan_device(None if args.device == "auto" else args.device)
    apply_threads(plan)
    count, per_tile = request.tile_count(), request.steps_per_tile()
    unit = "tile" if per_tile == 1 else "step"
    with tqdm(total=count * per_tile, desc=f"{args.image.name} x{request.scale}", unit=unit,
              file=sys.stderr) as bar:
        def on_progress(step: int, total: int, _preview: object) -> None:
            tile = min(count, step // per_tile + (step % per_tile > 0))
            bar.set_postfix_str(f"tile {max(tile, 1)}/{count}")
            bar.update(step - bar.n)

        try:
            upscaler = load_upscaler(request, {}, plan.device)
            image = upscale_image(request, upscaler, JobControl(), on_progress, max_fps=4)
        except (ModelLoadError, ValueError) as exc:
            return fail(str(exc), 1)
        except KeyboardInterrupt:
            return fail("interrupted", 130)
    write_png_atomic(image, args.output, upscale_infotext(request, upscaler.name))
    print(args.output)
    return 0

