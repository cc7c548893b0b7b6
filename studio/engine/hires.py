"""Hires. fix (A1111): generate at the base size, enlarge with Lanczos, then img2img at the
larger size with the same model, seed, prompt and sampler, so the details are redrawn at
the new size instead of being stretched.

Progress covers both passes as one count: the first pass reports k/(base + second) steps,
the second continues at base + k, so the GUI bar and the CLI bar run once from 0 to 100 %.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from PIL import Image

from studio.core.requests import GenerateRequest, JobKind
from studio.engine.memory import StatusCallback
from studio.engine.runner import GenerationRunner, JobControl, PreviewCallback


@dataclass(frozen=True)
class HiresOutput:
    """One Hires. fix image: `record` is the request its infotext describes.

    Stopped in the first pass: the base-size image, recorded without the second pass.
    Stopped in the second pass: `steps_done` is the first pass's steps plus the second's.
    """

    image: Image.Image
    steps_done: int
    total_steps: int
    record: GenerateRequest

    @property
    def partial(self) -> bool:
        return self.steps_done < self.total_steps


def second_pass_request(request: GenerateRequest) -> GenerateRequest:
    """The img2img request of the second pass (its init image is passed separately)."""
    width, height = request.hires_size
    return replace(request, kind=JobKind.IMG2IMG, strength=request.hires_strength,
                   steps=request.hires_steps or request.steps, width=width, height=height,
                   init_image=None, mask_image=None, hires_scale=1.0)


def expected_second_steps(request: GenerateRequest) -> int:
    """How many steps img2img runs: int(steps × strength), as the diffusers pipelines do."""
    steps = request.hires_steps or request.steps
    return max(1, min(steps, int(steps * request.hires_strength)))


def render_hires(runner: GenerationRunner, request: GenerateRequest, control: JobControl,
                 on_preview: PreviewCallback,
                 on_status: StatusCallback | None = None) -> HiresOutput:
    """Both passes of one image (`request.hires` must be true); raises JobCancelled."""
    second_guess = expected_second_steps(request)

    def first_preview(step: int, total: int, image: object) -> None:
        on_preview(step, total + second_guess, image)  # type: ignore[arg-type]

    first = runner.run_one(request, control, first_preview, on_status=on_status)
    if first.partial:
        return HiresOutput(first.image, first.steps_done, first.total_steps + second_guess,
                           replace(request, hires_scale=1.0))
    base_total = first.total_steps
    big = first.image.resize(request.hires_size, Image.Resampling.LANCZOS)

    def second_preview(step: int, total: int, image: object) -> None:
        on_preview(base_total + step, base_total + total, image)  # type: ignore[arg-type]

    second = runner.run_one(second_pass_request(request), control, second_preview, init=big,
                            on_status=on_status)
    return HiresOutput(second.image, request.steps + second.steps_done,
                       request.steps + second.total_steps, request)


def hires_render(runner: GenerationRunner, control: JobControl,
                 on_status: StatusCallback | None) -> Callable:
    """A `run_batch` render function for Hires. fix requests."""

    def render(single: GenerateRequest, on_preview: PreviewCallback) -> tuple:
        output = render_hires(runner, single, control, on_preview, on_status)
        return output.image, output

    return render
