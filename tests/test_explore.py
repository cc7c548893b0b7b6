"""Explorer: forward process vs closed form, recorded reverse steps vs the scheduler's own x̂0."""

from __future__ import annotations

import functools
import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.explore_requests import NoiseStepRequest, RecordStepsRequest, StepsRecorded
from studio.core.noise_schedule import (
    NoiseSchedule,
    fixed_noise,
    forward_image,
    from_unit,
    to_unit,
)
from studio.core.requests import GenerateRequest
from studio.engine.context import EngineContext
from studio.engine.device import plan_device
from studio.engine.explore import StepRecorder
from studio.engine.preview import preview_for_model
from studio.engine.runner import JobControl
from tests.engine_helpers import running_worker

ROOT = Path(__file__).resolve().parents[1]
EMOJI_SD = ROOT / "resources" / "models" / "emoji-sd"


@pytest.mark.parametrize("kind", ["linear", "scaled_linear", "squaredcos_cap_v2"])
def test_schedule_matches_diffusers(kind: str) -> None:
    from diffusers import DDPMScheduler

    config = {"beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": kind,
              "num_train_timesteps": 1000}
    ours = NoiseSchedule.from_config(config).alphas_cumprod
    theirs = DDPMScheduler(**config).alphas_cumprod.double().numpy()
    assert ours.shape == (1000,)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)  # diffusers: float32


@pytest.mark.skipif(not EMOJI_SD.is_dir(), reason="no shipped model")
def test_schedule_from_model_folder_and_log_snr() -> None:
    schedule = NoiseSchedule.from_model(EMOJI_SD)
    config = json.loads((EMOJI_SD / "scheduler" / "scheduler_config.json").read_text())
    assert schedule.steps == config["num_train_timesteps"] == 1000
    snr = schedule.log_snr()
    assert np.all(np.diff(snr) < 0)  # the signal-to-noise ratio falls with t
    abar = schedule.alphas_cumprod
    np.testing.assert_allclose(np.exp(snr), abar / (1 - abar), rtol=1e-9)


def test_forward_image_is_the_closed_form() -> None:
    schedule = NoiseSchedule.from_config({})
    image = np.random.default_rng(1).integers(0, 256, (16, 12, 3), dtype=np.uint8)
    noise = fixed_noise(image.shape, seed=3)
    for t in (0, 10, 250, 500, 999):
        abar = schedule.alphas_cumprod[t]
        expected = np.sqrt(abar) * to_unit(image) + np.sqrt(1 - abar) * noise
        assert np.array_equal(forward_image(image, schedule, t, seed=3), from_unit(expected))
    assert np.abs(forward_image(image, schedule, 0, 3).astype(int) - image).mean() < 4
    late = to_unit(forward_image(image, schedule, 999, 3))
    assert abs(np.corrcoef(late.ravel(), to_unit(image).ravel())[0, 1]) < 0.2


def test_forward_samples_have_the_closed_form_moments() -> None:
    schedule = NoiseSchedule.from_config({})
    x0 = np.linspace(-1, 1, 8)
    for t in (100, 500, 900):
        samples = schedule.noisy(np.tile(x0, (20000, 1)), t, fixed_noise((20000, 8), t))
        abar = schedule.alphas_cumprod[t]
        np.testing.assert_allclose(samples.mean(0), np.sqrt(abar) * x0, atol=0.03)
        np.testing.assert_allclose(samples.var(0), 1 - abar, rtol=0.05)


class _Events:
    def __init__(self) -> None:
        self.data: list = []
        self.finals: list = []
        self.done = threading.Event()

    def job_started(self, *a): pass
    def job_preview(self, *a): pass
    def job_result(self, *a): pass
    def engine_status(self, *a): pass

    def job_data(self, job_id, payload):
        self.data.append(payload)

    def _final(self, *item):
        self.finals.append(item)
        self.done.set()

    def job_finished(self, job_id, results): self._final("finished", results)
    def job_failed(self, job_id, message, cause=""): self._final("failed", message)
    def job_cancelled(self, job_id): self._final("cancelled")


@pytest.fixture
def explore_engine(tmp_path):
    events = _Events()
    with running_worker(events, tmp_path / "out") as (worker, ctx):
        yield worker, events, ctx


def _generate(model: Path, scheduler: str = "DDIM", steps: int = 5) -> GenerateRequest:
    return GenerateRequest(model_path=str(model), prompt="a red apple", steps=steps,
                           guidance=4.0, seed=11, width=64, height=64, scheduler=scheduler)


def _independent_x0(ctx, request: GenerateRequest) -> list[torch.Tensor]:
    """The scheduler's own pred_original_sample at every step, from a plain pipeline call."""
    from studio.core.requests import JobKind
    from studio.engine.schedulers import make_scheduler

    pipe = ctx.cache.get(Path(request.model_path), JobKind.TXT2IMG)
    pipe.scheduler = make_scheduler(request.scheduler, pipe.scheduler.config)
    seen: list[torch.Tensor] = []
    original = pipe.scheduler.step

    @functools.wraps(original)
    def step(*args, return_dict=True, **kwargs):
        out = original(*args, return_dict=True, **kwargs)
        seen.append(out.pred_original_sample.clone())
        return out if return_dict else out.to_tuple()

    pipe.scheduler.step = step
    kwargs = ctx.generation._pipe_kwargs(request)
    with torch.inference_mode():
        pipe(**kwargs, callback_on_step_end=lambda p, i, t, kw: kw)
    return seen


@pytest.mark.parametrize("scheduler", ["DDIM", "Euler"])
def test_recorded_steps_match_the_schedulers_x0(tiny_model_dir, scheduler: str) -> None:
    ctx = EngineContext.create(plan_device("cpu"), max_preview_fps=0, set_threads=False)
    request = _generate(tiny_model_dir, scheduler)
    control = JobControl()
    recorder = StepRecorder()
    recorder.keep_latents = True
    control.record = recorder
    ctx.generation.run_one(request, control)
    reference = _independent_x0(ctx, request)
    assert len(recorder.frames) == len(reference) == request.steps
    for ours, theirs in zip(recorder.x0_latents, reference, strict=True):
        assert torch.allclose(ours, theirs.float(), atol=1e-5)
    preview = preview_for_model(tiny_model_dir, "StableDiffusionPipeline")
    assert np.array_equal(recorder.frames[-1].x0, preview.to_rgb(reference[-1]))
    timesteps = [f.timestep for f in recorder.frames]
    assert timesteps == sorted(timesteps, reverse=True)
    assert recorder.frames[0].xt.shape == recorder.frames[0].eps.shape == (8, 8, 3)


def test_ordinary_generation_records_nothing(tiny_model_dir) -> None:
    ctx = EngineContext.create(plan_device("cpu"), max_preview_fps=0, set_threads=False)
    control = JobControl()
    ctx.generation.run_one(_generate(tiny_model_dir, steps=2), control)
    assert control.record is None
    step = ctx.cache.get(tiny_model_dir, _generate(tiny_model_dir).kind).scheduler.step
    assert "StepRecorder" not in getattr(step, "__qualname__", "")


def test_record_job_sends_one_frame_per_step(explore_engine, tiny_model_dir) -> None:
    worker, events, _ctx = explore_engine
    worker.submit(RecordStepsRequest(_generate(tiny_model_dir, "Euler a", steps=4)))
    assert events.done.wait(120), events.finals
    assert events.finals[0][0] == "finished" and len(events.finals[0][1]) == 1
    (payload,) = events.data
    assert isinstance(payload, StepsRecorded) and len(payload.frames) == 4
    assert [f.index for f in payload.frames] == [0, 1, 2, 3]


def test_noise_step_job_reports_prediction_and_mse(explore_engine, tiny_model_dir) -> None:
    from PIL import Image

    worker, events, _ctx = explore_engine
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(buffer, "PNG")
    worker.submit(NoiseStepRequest(str(tiny_model_dir), buffer.getvalue(), timestep=300,
                                   seed=2, size=64))
    assert events.done.wait(120), events.finals
    assert events.finals[0][0] == "finished", events.finals
    (result,) = events.data
    assert result.timestep == 300 and result.noisy.shape == (64, 64, 3)
    assert result.noise.shape == result.predicted.shape == (8, 8, 3)
    assert np.isfinite(result.mse) and result.mse > 0
    assert not np.array_equal(result.noise, result.predicted)


def test_a_noise_step_reads_the_prompt_like_a_generation(tiny_model_dir) -> None:
    """Weights and LoRA tags are not fed to the text encoder as words."""
    from PIL import Image

    from studio.core.requests import JobKind
    from studio.engine.explore import noise_step
    from studio.engine.pipelines import PipelineCache

    pipe = PipelineCache(plan_device("cpu")).get(tiny_model_dir, JobKind.TXT2IMG)
    preview = preview_for_model(tiny_model_dir, type(pipe).__name__)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(buffer, "PNG")

    def mse(prompt: str) -> float:
        request = NoiseStepRequest(str(tiny_model_dir), buffer.getvalue(), timestep=300,
                                   seed=2, size=64, prompt=prompt)
        return noise_step(pipe, request, preview).mse

    plain = mse("red square")
    assert mse("(red:1.0) square") == plain
    assert mse("red square <lora:anything:0.8>") == plain
    assert mse("(red:1.6) square") != plain
