"""`studio batch`: upscale, img2img or generate over a folder tree or a prompts file.

Registering imports nothing heavy; Ray, torch and the engine are imported when a batch runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from studio.commands.common import SEED_HELP
from studio.commands.upscale import add_upscale_options
from studio.core.requests import SCHEDULER_NAMES

if TYPE_CHECKING:
    from studio.batch.build import BatchSpec
    from studio.batch.plan import BatchItem, Listing
    from studio.batch.report import BatchReport

EXIT_INTERRUPTED = 130
RAY_MISSING = "--ray needs Ray, which is not installed: pip install -e '.[cluster]'"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch", help="upscale, img2img or generate many images (resumable; --ray: a cluster)",
        description="Run one job per input over a folder tree (outputs mirror it) or a prompts "
                    "file. A re-run skips finished outputs. Exit 0: all done, 1: some inputs "
                    "failed (listed at the end), 2: bad arguments, 130: interrupted.")
    kinds = p.add_subparsers(dest="batch_kind", metavar="KIND")
    _upscale_parser(kinds)
    _img2img_parser(kinds)
    _generate_parser(kinds)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", "-o", type=Path, required=True, metavar="OUT_DIR",
                   help="output folder (created if missing); finished outputs are skipped")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="run with Ray Data: a cluster's address, 'auto' (the running one) or "
                        "'local' (start a local instance on 127.0.0.1); inputs and OUT_DIR "
                        "must be on a file system every node shares")
    p.add_argument("--actors", type=int, help="with --ray: model-holding actors (default: one "
                                              "per GPU, else 1)")


def _upscale_parser(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("upscale", help="upscale every image under IN_DIR")
    p.add_argument("in_dir", type=Path, metavar="IN_DIR")
    _common(p)
    add_upscale_options(p)
    p.set_defaults(func=run_batch_command)


def _img2img_parser(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("img2img", help="re-imagine every image under IN_DIR with a prompt")
    p.add_argument("in_dir", type=Path, metavar="IN_DIR")
    _common(p)
    p.add_argument("--prompt", "-p", default="", help="what the results should show")
    p.add_argument("--negative", "-n", default="", help="negative prompt")
    p.add_argument("--strength", type=float, default=0.6, help="how much to change, (0, 1]")
    _sampling(p)
    p.add_argument("--work-size", type=int, help="long side the model works at (default: native)")
    p.set_defaults(func=run_batch_command)


def _generate_parser(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("generate", help="one image per prompt of a prompts file")
    p.add_argument("--prompts", type=Path, required=True, metavar="FILE",
                   help="one prompt per line, or a CSV whose header names the columns: prompt, "
                        "negative, seed, steps, guidance, width, height, scheduler")
    p.add_argument("--format", choices=("auto", "lines", "csv"), default="auto",
                   help="how to read FILE (auto: CSV when it ends in .csv or its first line is "
                        "a header of known columns)")
    _common(p)
    p.add_argument("--negative", "-n", default="", help="negative prompt (a CSV cell wins)")
    _sampling(p)
    p.add_argument("--width", type=int, help="width in px (default: the model's native size)")
    p.add_argument("--height", type=int, help="height in px")
    p.set_defaults(func=run_batch_command, prompt="")


def _sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale")
    p.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    p.add_argument("--scheduler", choices=SCHEDULER_NAMES, help="sampler")
    p.add_argument("--model", help="model name or diffusers folder (default: the built-in)")


def run_batch_command(args: argparse.Namespace) -> int:
    from studio.batch.plan import pending
    from studio.batch.report import BatchReport
    from studio.commands.common import fail

    try:
        _check_ray_args(args)
        spec, items, listing = _prepare(args)
    except (FileNotFoundError, ValueError) as exc:
        return fail(str(exc))
    todo, done = pending(items)
    report = BatchReport(items, done, args.batch_kind)
    if listing is not None:
        report.fail_listing(listing.errors)
    try:
        _run(args, spec, items, todo, report)
    except KeyboardInterrupt:
        report.close()
        return fail("interrupted; finished outputs are kept: run the same command again to go "
                    "on", EXIT_INTERRUPTED)
    except RuntimeError as exc:  # the cluster could not be reached or failed as a whole
        report.close()
        return fail(str(exc), 1)
    return report.finish()


def _run(args: argparse.Namespace, spec: BatchSpec, items: list[BatchItem], todo: list[int],
         report: BatchReport) -> None:
    if args.ray:
        from studio.batch.ray_runner import run_ray

        run_ray(spec, items, todo, report, args.ray, args.actors)
    else:
        from studio.batch.local import run_local

        run_local(spec, items, todo, report)


def _check_ray_args(args: argparse.Namespace) -> None:
    if args.actors is not None and not args.ray:
        raise ValueError("--actors needs --ray")
    if args.actors is not None and args.actors < 1:
        raise ValueError(f"--actors must be at least 1 (got {args.actors})")
    if args.ray:
        from studio.commands.common import check_text

        check_text(args.ray, "--ray")
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError:
            raise ValueError(RAY_MISSING) from None


def _prepare(args: argparse.Namespace) -> tuple[BatchSpec, list[BatchItem], Listing | None]:
    """The spec, every item and where it goes; all arguments checked before any work."""
    from studio.batch.build import BatchSpec
    from studio.commands.destinations import check_folder

    out = _out_dir(args.out)
    check_folder(out)
    if args.batch_kind == "generate":
        from studio.commands.batch_requests import generate_items

        return BatchSpec("generate", device=args.device), generate_items(args, out), None
    from studio.batch.plan import list_inputs, mirror_items
    from studio.commands.batch_requests import img2img_spec, upscale_spec

    in_dir = _in_dir(args.in_dir, out)
    spec = upscale_spec(args) if args.batch_kind == "upscale" else img2img_spec(args)
    listing = list_inputs(in_dir, exclude=out)
    if not listing.files and not listing.errors:
        raise ValueError(f"no images in {in_dir} (looked for .png, .jpg, .jpeg, .webp, .bmp, "
                         ".tif, .tiff, .gif, in every folder below it)")
    return spec, mirror_items(listing.files, in_dir, out), listing


def _out_dir(path: Path) -> Path:
    from studio.commands.common import check_text

    check_text(str(path), "--out")
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} is a file; give a folder")
    return path


def _in_dir(path: Path, out: Path) -> Path:
    from studio.commands.common import check_text

    check_text(str(path), "IN_DIR")
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "not found"
        raise FileNotFoundError(f"IN_DIR {what}: {path}")
    if out.exists() and path.resolve() == out.resolve():
        raise ValueError("--out must not be IN_DIR itself: outputs would sit among the inputs")
    return path
