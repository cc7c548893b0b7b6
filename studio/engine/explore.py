"""Explorer jobs on the worker thread: record a generation's steps; one visible training step.

Recording only happens when a `RecordStepsRequest` sets `JobControl.record`: ordinary
generations never build a `StepRecorder`, so they pay nothing for it.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from studio.core.explore_requests import (
    NoiseStepRequest,
    NoiseStepResult,
    RecordStepsRequest,
    StepFrame,
    StepsRecorded,
)
from studio.core.lora import strip_lora_tags
from studio.core.records import ImageResult, ResultSaver
from studio.core.requests import JobKind
from studio.engine.preview import LinearPreview, X0Tap, preview_for_model
from studio.engine.prompt_weights import text_kwargs
from studio.engine.runner import JobControl


class StepRecorder:
    """Wraps `scheduler.step` (after the X0Tap) to keep x_t, ε̂ and x̂0 projections per step."""

    def __init__(self) -> None:
        self.frames: list[StepFrame] = []
        self.x0_latents: list[torch.Tensor] = []  # the scheduler's own x̂0, for checks
        self.keep_latents = False

    def attach(self, scheduler, tap: X0Tap, preview: LinearPreview) -> None:  # noqa: ANN001
        """Record this scheduler's steps from now on (a retried run starts over)."""
        self.frames.clear()
        self.x0_latents.clear()
        inner = scheduler.step

        @functools.wraps(inner)
        def step(model_output, timestep, sample, *args, return_dict: bool = True,  # noqa: ANN001, ANN202
                 **kwargs):
            scale = 1.0 / (1.0 + _sigma(scheduler, timestep) ** 2) ** 0.5
            output = inner(model_output, timestep, sample, *args, return_dict=True, **kwargs)
            self._record(int(timestep), sample * scale, model_output, tap.x0, preview)
            return output if return_dict else output.to_tuple()

        scheduler.step = step

    def _record(self, timestep: int, xt: torch.Tensor, eps: torch.Tensor,
                x0: torch.Tensor | None, preview: LinearPreview) -> None:
        x0 = x0 if x0 is not None else xt
        if self.keep_latents:
            self.x0_latents.append(x0.detach().float().cpu().clone())
        self.frames.append(StepFrame(len(self.frames), timestep, preview.to_rgb(xt),
                                     preview.to_rgb(eps), preview.to_rgb(x0)))


def _sigma(scheduler, timestep) -> float:  # noqa: ANN001
    """σ of a σ-parameterised (Euler-type) scheduler's current step, else 0."""
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is None or float(getattr(scheduler, "init_noise_sigma", 1.0)) <= 1.0:
        return 0.0
    index = getattr(scheduler, "step_index", None)
    if index is None:
        index = scheduler.index_for_timestep(timestep)
    return float(sigmas[index])


def emit_data(events, job_id: int, payload: object) -> None:  # noqa: ANN001
    """Send a feature payload to the GUI when the events object can carry one."""
    send = getattr(events, "job_data", None)
    if send is not None:
        send(job_id, payload)


def run_record_steps(job_id: int, request: RecordStepsRequest, ctx, control: JobControl,  # noqa: ANN001
                     events, saver: ResultSaver) -> list[ImageResult]:
    """Generate one image with step recording on; the frames go out as a `StepsRecorded`."""
    recorder = StepRecorder()
    control.record = recorder

    def on_preview(step: int, total: int, image: object) -> None:
        events.job_preview(job_id, step, total, image)

    output = ctx.generation.run_one(request.generate, control, on_preview)
    steps_done = output.steps_done if output.partial else None
    result = saver.save(job_id, 0, output.image, request.generate, steps_done)
    events.job_result(result)
    emit_data(events, job_id, StepsRecorded(tuple(recorder.frames)))
    return [result]


def _pixels(data: bytes, size: int) -> torch.Tensor:
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    array = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def _decode(pipe, latents: torch.Tensor) -> np.ndarray:  # noqa: ANN001
    vae = pipe.vae
    image = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample[0]
    array = ((image.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return array.permute(1, 2, 0).cpu().numpy()


@torch.inference_mode()
def noise_step(pipe, request: NoiseStepRequest, preview: LinearPreview) -> NoiseStepResult:  # noqa: ANN001
    """Encode, noise to t with a seeded ε, predict ε̂ with the UNet; MSE(ε̂, ε) as in training."""
    from diffusers import DDPMScheduler

    device, dtype = pipe.unet.device, pipe.unet.dtype
    pixels = _pixels(request.image, request.size).to(device, pipe.vae.dtype)
    latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
    latents = latents.float()
    generator = torch.Generator("cpu").manual_seed(request.seed)
    noise = torch.randn(latents.shape, generator=generator).to(device)
    schedule = DDPMScheduler.from_config(pipe.scheduler.config)
    t = torch.tensor([request.timestep], device=device)
    noisy = schedule.add_noise(latents, noise, t)
    embeddings = _embeddings(pipe, request.prompt, device)
    predicted = pipe.unet(noisy.to(dtype), t, encoder_hidden_states=embeddings).sample.float()
    abar = float(schedule.alphas_cumprod[request.timestep])
    x0 = (noisy - (1 - abar) ** 0.5 * predicted) / abar**0.5
    mse = float(torch.nn.functional.mse_loss(predicted, noise))
    return NoiseStepResult(request.timestep, _decode(pipe, noisy), preview.to_rgb(noise),
                           preview.to_rgb(predicted), _decode(pipe, x0), mse)


def _embeddings(pipe, prompt: str, device) -> torch.Tensor:  # noqa: ANN001
    """The prompt as the generation path reads it: A1111 weights and 75-token chunks; LoRA
    tags are taken out (a noise step does not load adapters)."""
    kwargs = text_kwargs(pipe, strip_lora_tags(prompt))
    if "prompt_embeds" in kwargs:
        return kwargs["prompt_embeds"]
    return pipe.encode_prompt(kwargs["prompt"], device, 1, False)[0]


def run_noise_step(job_id: int, request: NoiseStepRequest, ctx, control: JobControl,  # noqa: ANN001
                   events, saver: ResultSaver) -> list[ImageResult]:
    pipe = ctx.cache.get(Path(request.model_path), JobKind.TXT2IMG)
    preview = preview_for_model(Path(request.model_path), type(pipe).__name__)
    emit_data(events, job_id, noise_step(pipe, request, preview))
    return []


def register(ctx) -> None:  # noqa: ANN001 - EngineContext
    ctx.handlers[RecordStepsRequest] = run_record_steps
    ctx.handlers[NoiseStepRequest] = run_noise_step
