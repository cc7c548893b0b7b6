"""Shared plumbing for headless commands: model lookup, requests, a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.core.models import ModelEntry, ModelRegistry, model_defaults, native_resolution
from studio.core.prompts import expand_prompt, load_expansions
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.device import configure_process_env


def fail(message: str, code: int = 2) -> int:
    print(f"studio: error: {message}", file=sys.stderr)
    return code


def load_entry(spec: str | None) -> ModelEntry:
    from studio.core.models import resolve_model

    registry = ModelRegistry()
    if spec:
        return resolve_model(spec, registry)
    entry = registry.default()
    if entry is None:
        raise FileNotFoundError(registry.describe_search())
    return entry


def make_request(args: argparse.Namespace, entry: ModelEntry, kind: JobKind = JobKind.TXT2IMG,
                 **extra: object) -> GenerateRequest:
    defaults = model_defaults(entry.path)
    native = native_resolution(entry.path) or 512
    return GenerateRequest(
        model_path=str(entry.path), model_name=entry.name,
        prompt=expand_prompt(args.prompt, load_expansions(entry.path)),
        negative_prompt=args.negative,
        steps=args.steps or int(defaults.get("steps", 25)),
        guidance=args.guidance if args.guidance is not None
        else float(defaults.get("guidance", 7.0)),
        seed=args.seed, width=args.width or native, height=args.height or native,
        scheduler=args.scheduler or str(defaults.get("scheduler", "Euler a")),
        batch_count=getattr(args, "batch", 1), kind=kind, **extra,
    )


def run_request(request: GenerateRequest, paths: list[Path], device: str = "auto") -> int:
    """Run synchronously with a tqdm bar; write each image atomically with its infotext."""
    configure_process_env()
    from tqdm import tqdm

    from studio.core.outputs import write_png_atomic
    from studio.core.records import infotext_for
    from studio.engine.device import apply_threads, plan_device
    from studio.engine.pipelines import ModelLoadError, PipelineCache
    from studio.engine.runner import GenerationRunner, JobControl

    plan = plan_device(None if device == "auto" else device)
    apply_threads(plan)
    runner = GenerationRunner(PipelineCache(plan), max_preview_fps=0)
    cascade = None
    if request.upscale_by > 1:  # resolved (and checked) before generating
        from studio.engine.cascade import Cascade

        cascade = Cascade(request, {}, plan.device, JobControl())
    for index, path in enumerate(paths):
        single = request.for_batch_index(index)
        label = f"{path.name} (seed {single.seed})"
        with tqdm(total=single.steps, desc=label, unit="step", file=sys.stderr) as bar:
            def on_step(step: int, total: int, _image: object, bar=bar) -> None:
                bar.total = total
                bar.update(step - bar.n)

            try:
                output = runner.run_one(single, JobControl(), on_step)
            except ModelLoadError as exc:
                return fail(str(exc), 1)
            except KeyboardInterrupt:
                return fail("interrupted", 130)
        write_png_atomic(output.image, path, infotext_for(single))
        print(path)
        if cascade is not None:
            try:
                image, name = cascade.upscale(single, output.image, path.name)
            except (ModelLoadError, ValueError) as exc:
                return fail(f"upscale: {exc}", 1)
            big = path.with_name(f"{path.stem}-x{single.upscale_by}{path.suffix}")
            write_png_atomic(image, big, infotext_for(single, upscaler_name=name))
            print(big)
    return 0


def run_edit_request(request: GenerateRequest, path: Path, device: str = "auto") -> int:
    """Run an img2img/inpaint request synchronously; write the result (and mask) atomically."""
    configure_process_env()
    from PIL import Image
    from tqdm import tqdm

    from studio.core.outputs import write_png_atomic
    from studio.core.records import infotext_for
    from studio.engine.device import plan_device
    from studio.engine.edit import EditJob
    from studio.engine.pipelines import ModelLoadError, PipelineCache
    from studio.engine.runner import GenerationRunner, JobControl

    plan = plan_device(None if device == "auto" else device)
    runner = GenerationRunner(PipelineCache(plan), max_preview_fps=0)
    try:
        pipe = runner.cache.get(Path(request.model_path), request.kind)
        job = EditJob(request, getattr(pipe, "vae_scale_factor", 8))
        with tqdm(total=request.steps, desc=path.name, unit="step", file=sys.stderr) as bar:
            def on_step(step: int, total: int, _image: object) -> None:
                bar.total = total
                bar.update(step - bar.n)

            output = runner.run_one(request, JobControl(), on_step, job.work_init, job.work_mask)
    except ModelLoadError as exc:
        return fail(str(exc), 1)
    except (ValueError, Image.DecompressionBombError) as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    image = job.finish(output.image)
    write_png_atomic(image, path, infotext_for(request))
    print(path)
    return 0
