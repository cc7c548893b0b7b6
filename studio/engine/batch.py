"""A batch of images, each rendered, saved and then reported; shared by txt2img and edits."""

from __future__ import annotations

from collections.abc import Callable

from studio.core.records import ImageResult, ResultSaver
from studio.core.requests import GenerateRequest


def run_batch(job_id: int, request: GenerateRequest, events, saver: ResultSaver,  # noqa: ANN001
              render: Callable, on_saved: Callable[[ImageResult], None] | None = None,
              follow_up: Callable[[GenerateRequest, ImageResult], ImageResult] | None = None,
              ) -> list[ImageResult]:
    """Every image of a batch: render, save, then report it; a stopped image ends the batch.

    `render(single_request, on_preview) -> (image, RunOutput)` makes one image;
    `follow_up(single_request, result)` makes a saved derived image (the upscale cascade),
    reported right after it. An output with a `record` request (Hires. fix) is saved with
    that request's infotext.
    """
    results: list[ImageResult] = []
    for index in range(request.batch_count):
        single = request.for_batch_index(index)

        def on_preview(step: int, total: int, image: object) -> None:
            events.job_preview(job_id, step, total, image)

        image, output = render(single, on_preview)
        steps_done = output.steps_done if output.partial else None
        record = getattr(output, "record", single)
        result = saver.save(job_id, index, image, record, steps_done)
        if on_saved is not None:
            on_saved(result)
        results.append(result)
        events.job_result(result)
        if follow_up is not None and not output.partial:
            results.append(follow_up(single, result))
            events.job_result(results[-1])
        if output.partial:
            break
    return results
