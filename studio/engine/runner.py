"""Runs one image of a generation request on a pipeline, streaming x0 previews."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from studio.core.images import open_image
from studio.core.lora import strip_lora_tags
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.cancel import cancel_points
from studio.engine.control import JobCancelled, JobControl
from studio.engine.lora import LoraAdapters
from studio.engine.memory import StatusCallback, decode_after_oom, run_with_fallback
from studio.engine.pipelines import PipelineCache
from studio.engine.preview import LinearPreview, X0Tap, preview_for_model
from studio.engine.prompt_weights import text_kwargs
from studio.engine.schedulers import make_scheduler

PreviewCallback = Callable[[int, int, np.ndarray], None]


class _StopAndKeep(Exception):
    """Internal: stop denoising and keep the current x0 estimate."""


@dataclass(frozen=True)
class RunOutput:
    image: Image.Image
    steps_done: int
    total_steps: int

    @property
    def partial(self) -> bool:
        return self.steps_done < self.total_steps


class _StepWatcher:
    """The pipeline's step-end callback: cancel checks and coalesced previews."""

    def __init__(self, tap: X0Tap, preview: LinearPreview, control: JobControl,
                 on_preview: PreviewCallback | None, max_fps: float) -> None:
        self.tap, self.preview, self.control = tap, preview, control
        self.on_preview = on_preview
        self.min_interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self.last_emit = -float("inf")
        self.steps_done = 0
        self.latents: torch.Tensor | None = None

    def __call__(self, pipe, step_index: int, timestep, kwargs: dict) -> dict:  # noqa: ANN001
        self.steps_done = step_index + 1
        self.latents = kwargs.get("latents")
        if self.control.cancel.is_set():
            raise JobCancelled()
        if self.control.keep.is_set():
            raise _StopAndKeep()
        total = int(getattr(pipe, "_num_timesteps", 0) or self.steps_done)
        now = time.perf_counter()
        due = now - self.last_emit >= self.min_interval or self.steps_done >= total
        if self.on_preview is not None and due:
            x0 = self.tap.x0 if self.tap.x0 is not None else self.latents
            if x0 is not None:
                self.on_preview(self.steps_done, total, self.preview.to_rgb(x0))
                self.last_emit = now
        return kwargs


def decode_image_bytes(data: bytes, mode: str = "RGB", purpose: str = "image") -> Image.Image:
    return open_image(data, purpose).convert(mode)


class GenerationRunner:
    """Turns single-image requests into images using the shared pipeline cache."""

    def __init__(self, cache: PipelineCache, max_preview_fps: float = 15.0) -> None:
        self.cache = cache
        self.max_preview_fps = max_preview_fps
        self.loras = LoraAdapters()  # `<lora:NAME:w>` tags: adapters on the shared modules

    def run_one(self, request: GenerateRequest, control: JobControl,
                on_preview: PreviewCallback | None = None, init: Image.Image | None = None,
                mask: Image.Image | None = None,
                on_status: StatusCallback | None = None) -> RunOutput:
        """Generate the image for `request.seed`; raises JobCancelled when cancelled.

        `init`/`mask` override the request's encoded images (already at the work size).
        Out of memory: decode again in tiles, else retry once in low-memory mode
        (`studio.engine.memory`), reporting through `on_status`.
        """
        from pathlib import Path

        pipe = self.cache.get(Path(request.model_path), request.kind)
        for warning in self.cache.take_warnings():  # e.g. "CPU offload skipped: …"
            if on_status is not None:
                on_status(warning)
        self.loras.apply_request(pipe, request, on_status)

        def attempt() -> RunOutput:
            return self._attempt(pipe, request, control, on_preview, init, mask, on_status)

        return run_with_fallback(attempt, pipe, self.cache.plan, on_status,
                                 self.cache.mark_low_memory)

    def _attempt(self, pipe, request: GenerateRequest, control: JobControl,  # noqa: ANN001
                 on_preview: PreviewCallback | None, init: Image.Image | None,
                 mask: Image.Image | None, on_status: StatusCallback | None) -> RunOutput:
        from pathlib import Path

        pipe.scheduler = make_scheduler(request.scheduler, pipe.scheduler.config)
        tap = X0Tap(pipe.scheduler)
        preview = preview_for_model(Path(request.model_path), type(pipe).__name__)
        if control.record is not None:
            control.record.attach(pipe.scheduler, tap, preview)  # type: ignore[attr-defined]
        watcher = _StepWatcher(tap, preview, control, on_preview, self.max_preview_fps)
        kwargs = self._pipe_kwargs(request, init, mask, pipe)
        # slow steps (full-size models on the CPU): cancel inside them too; for small models a
        # step takes milliseconds and the hooks would cost ~2%
        on_cpu = self.cache.plan.device == "cpu" and not self.cache.small_model
        try:
            with torch.inference_mode(), cancel_points(pipe, control.cancel, JobCancelled, on_cpu):
                image = pipe(**kwargs, callback_on_step_end=watcher).images[0]
        except _StopAndKeep:
            image = self._decode_current(pipe, tap.x0 if tap.x0 is not None else watcher.latents)
        except torch.OutOfMemoryError:
            if watcher.latents is None or watcher.steps_done < _total(pipe, request):
                raise
            final = watcher.latents
            image = decode_after_oom(lambda: self._decode_current(pipe, final), pipe, on_status)
        return RunOutput(image, watcher.steps_done, _total(pipe, request))

    @staticmethod
    def _pipe_kwargs(request: GenerateRequest, init: Image.Image | None = None,
                     mask: Image.Image | None = None, pipe=None) -> dict:  # noqa: ANN001
        """The pipeline call's arguments; with `pipe`, A1111 prompt syntax becomes embeddings."""
        generator = torch.Generator("cpu").manual_seed(request.seed)
        kwargs: dict = dict(
            **text_kwargs(pipe, strip_lora_tags(request.prompt),
                          strip_lora_tags(request.negative_prompt)),
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=generator,
        )
        if request.kind is JobKind.TXT2IMG:
            kwargs.update(width=request.width, height=request.height)
        else:
            if init is None and request.init_image is None:
                raise ValueError(f"{request.kind.value} needs an init image")
            init = init or decode_image_bytes(request.init_image)  # type: ignore[arg-type]
            kwargs.update(image=init, strength=request.strength)
        if request.kind is JobKind.INPAINT:
            if mask is None and request.mask_image is None:
                raise ValueError("inpainting needs a mask image")
            mask = mask or decode_image_bytes(request.mask_image, "L", "mask")  # type: ignore[arg-type]
            kwargs.update(mask_image=mask, width=init.width, height=init.height)
        return kwargs

    @staticmethod
    def _decode_current(pipe, latents: torch.Tensor | None) -> Image.Image:  # noqa: ANN001
        if latents is None:
            raise JobCancelled()
        with torch.inference_mode():
            scaled = latents.to(pipe.vae.dtype) / pipe.vae.config.scaling_factor
            decoded = pipe.vae.decode(scaled, return_dict=False)[0]
        return pipe.image_processor.postprocess(decoded, output_type="pil")[0]


def _total(pipe, request: GenerateRequest) -> int:  # noqa: ANN001
    return int(getattr(pipe, "_num_timesteps", 0) or request.steps)
