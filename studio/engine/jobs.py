"""One job from start to its final event; every failure becomes a `failed` message."""

from __future__ import annotations

import logging

import torch

from studio.core.records import ImageResult, ResultSaver
from studio.core.requests import GenerateRequest
from studio.engine.pipelines import ModelLoadError
from studio.engine.runner import GenerationRunner, JobCancelled, JobControl

log = logging.getLogger(__name__)


def run_generate_job(job_id: int, request: GenerateRequest, runner: GenerationRunner,
                     control: JobControl, events, saver: ResultSaver) -> None:  # noqa: ANN001
    """Run every image of the batch: save each, then report it; end with one final event."""
    results: list[ImageResult] = []
    try:
        request.validate()
        events.job_started(job_id, request)
        for index in range(request.batch_count):
            single = request.for_batch_index(index)

            def on_preview(step: int, total: int, image: object) -> None:
                events.job_preview(job_id, step, total, image)

            output = runner.run_one(single, control, on_preview)
            steps_done = output.steps_done if output.partial else None
            result = saver.save(job_id, index, output.image, single, steps_done)
            results.append(result)
            events.job_result(result)
            if output.partial:
                break
    except JobCancelled:
        events.job_cancelled(job_id)
        return
    except (ValueError, ModelLoadError, FileNotFoundError) as exc:
        events.job_failed(job_id, str(exc))
        return
    except torch.OutOfMemoryError:
        events.job_failed(job_id, _OOM_MESSAGE)
        return
    except Exception as exc:  # errors are data: report and keep serving
        log.exception("job %s failed", job_id)
        events.job_failed(job_id, f"Generation failed: {type(exc).__name__}: {exc}")
        return
    events.job_finished(job_id, results)


_OOM_MESSAGE = (
    "Out of memory. Try a smaller size, fewer images per batch, or close other programs."
)
