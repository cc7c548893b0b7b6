"""Jobs from start to their final event; every failure becomes a `failed` message."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from studio.core.backend import CAUSE_LORA, CAUSE_OUT_OF_MEMORY
from studio.core.lora import LoraSkippable
from studio.core.records import ImageResult, ResultSaver
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.batch import run_batch
from studio.engine.pipelines import ModelLoadError
from studio.engine.runner import JobCancelled, JobControl

log = logging.getLogger(__name__)

_OOM_MESSAGE = (
    "Out of memory. Try a smaller size, fewer images per batch, or close other programs."
)


def run_job(job_id: int, request: object, ctx, control: JobControl, events,  # noqa: ANN001
            saver: ResultSaver) -> None:
    """Validate, report start, run the request's handler, and end with exactly one event."""
    handler = ctx.handlers.get(type(request))
    try:
        if handler is None:
            raise ValueError(f"this engine cannot run {type(request).__name__} jobs")
        request.validate()  # type: ignore[attr-defined]
        events.job_started(job_id, request)
        results = handler(job_id, request, ctx, control, events, saver)
    except JobCancelled:
        events.job_cancelled(job_id)
        return
    except LoraSkippable as exc:
        events.job_failed(job_id, str(exc), CAUSE_LORA)
        return
    except (ValueError, ModelLoadError, FileNotFoundError) as exc:
        events.job_failed(job_id, str(exc))
        return
    except torch.OutOfMemoryError:
        events.job_failed(job_id, _OOM_MESSAGE, CAUSE_OUT_OF_MEMORY)
        return
    except Exception as exc:  # errors are data: report and keep serving
        log.exception("job %s failed", job_id)
        events.job_failed(job_id, f"Job failed: {type(exc).__name__}: {exc}")
        return
    events.job_finished(job_id, results)


def run_generate(job_id: int, request: GenerateRequest, ctx, control: JobControl,  # noqa: ANN001
                 events, saver: ResultSaver) -> list[ImageResult]:
    """Text-to-image batches here; img2img and inpaint go through `run_edit`."""
    if request.kind is not JobKind.TXT2IMG:
        from studio.engine.edit import run_edit

        return run_edit(job_id, request, ctx, control, events, saver)

    def one_pass(single: GenerateRequest, on_preview: Callable) -> tuple:
        output = ctx.generation.run_one(single, control, on_preview,
                                         on_status=events.engine_status)
        return output.image, output

    render: Callable = one_pass
    if request.hires:  # a second, img2img pass at the larger size
        from studio.engine.hires import hires_render

        render = hires_render(ctx.generation, control, events.engine_status)

    follow_up = None
    if request.upscale_by > 1:
        from studio.engine.cascade import Cascade

        cascade = Cascade(request, ctx.caches.setdefault("upscale", {}),
                          getattr(ctx.plan, "device", "cpu"), control)

        def follow_up(single: GenerateRequest, base: ImageResult) -> ImageResult:
            source_name = base.path.name if base.path else ""
            image, name = cascade.upscale(single, base.image, source_name)
            return saver.save_upscaled(base, image, single, name)

    return run_batch(job_id, request, events, saver, render, follow_up=follow_up)
