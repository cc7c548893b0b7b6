from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.device import plan_device
from studio.engine.pipelines import PipelineCache
from studio.engine.runner import GenerationRunner
from tests.engine_helpers import running_worker


class Recorder:
    """Collects engine events in order (thread-safe) and can act on a preview."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.causes: dict[int, str] = {}  # job id -> JobFailed cause
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.on_preview = None
        self.expected_final = 1

    def _add(self, item: tuple, final: bool = False) -> None:
        with self.lock:
            self.events.append(item)
            if final and sum(e[0] in ("finished", "failed", "cancelled") for e in self.events) \
                    >= self.expected_final:
                self.done.set()

    def job_started(self, job_id, request):
        self._add(("started", job_id))

    def job_preview(self, job_id, step, total, image):
        self._add(("preview", job_id, step, total, image))
        if self.on_preview:
            self.on_preview(job_id, step)

    def job_result(self, result):
        self._add(("result", result.job_id, result))

    def job_finished(self, job_id, results):
        self._add(("finished", job_id, results), final=True)

    def job_failed(self, job_id, message, cause=""):
        self.causes[job_id] = cause
        self._add(("failed", job_id, message), final=True)

    def job_cancelled(self, job_id):
        self._add(("cancelled", job_id), final=True)

    def engine_status(self, text):
        pass

    def kinds(self, job_id=None):
        return [e[0] for e in self.events if job_id is None or e[1] == job_id]

    def wait(self, timeout=60):
        assert self.done.wait(timeout), f"engine timed out; events so far: {self.kinds()}"


@pytest.fixture
def engine(tmp_path):
    recorder = Recorder()
    with running_worker(recorder, tmp_path / "outputs") as (worker, ctx):
        yield worker, recorder, ctx.cache


def _request(model: Path, **kw) -> GenerateRequest:
    base = dict(model_path=str(model), prompt="a red apple", steps=6, guidance=5.0, seed=7,
                width=64, height=64, scheduler="DDIM")
    base.update(kw)
    return GenerateRequest(**base)


def test_previews_stream_in_order_then_saved_result_then_finished(engine, tiny_model_dir):
    worker, rec, _ = engine
    job = worker.submit(_request(tiny_model_dir))
    rec.wait()
    kinds = rec.kinds(job)
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds[1:-2] == ["preview"] * 6 and kinds[-2] == "result"
    steps = [e[2] for e in rec.events if e[0] == "preview"]
    assert steps == [1, 2, 3, 4, 5, 6]
    preview = rec.events[1][4]
    assert preview.shape == (8, 8, 3) and preview.dtype == np.uint8
    result = rec.events[-2][2]
    assert result.path is not None and result.path.is_file()
    params = parse_infotext(read_parameters(result.path))
    assert params["Prompt"] == "a red apple"
    assert params["Steps"] == "6" and params["Seed"] == "7" and params["Sampler"] == "DDIM"
    assert params["Size"] == "64x64"
    saved = np.asarray(Image.open(result.path).convert("RGB"))
    assert np.array_equal(saved, np.asarray(result.image))


def test_preview_is_predicted_x0_not_noisy_latents(tiny_model_dir):
    from studio.engine.preview import SD1_FACTORS, LinearPreview
    from studio.engine.runner import JobControl

    cache = PipelineCache(plan_device("cpu"))
    runner = GenerationRunner(cache, max_preview_fps=0)
    request = _request(tiny_model_dir, steps=5)
    previews: list[np.ndarray] = []
    runner.run_one(request, JobControl(), lambda step, total, image: previews.append(image))
    # a second, identical run records the noisy latents the step callback sees
    pipe = cache.get(tiny_model_dir, JobKind.TXT2IMG)
    noisy: list = []

    def record(p, i, t, kwargs):
        noisy.append(kwargs["latents"].clone())
        return kwargs

    import torch

    pipe(**runner._pipe_kwargs(request), callback_on_step_end=record)
    project = LinearPreview(SD1_FACTORS).to_rgb
    first_noisy = project(noisy[0]).astype(int)
    assert np.abs(previews[0].astype(int) - first_noisy).mean() > 2  # x0, not x_t
    # at the last step the noise is gone: x0 and the latents agree
    last_gap = np.abs(previews[-1].astype(int) - project(noisy[-1]).astype(int)).mean()
    assert last_gap < 2
    assert torch.is_tensor(noisy[0]) and len(previews) == len(noisy) == 5


def test_cancel_stops_within_one_step_and_skips_decode(engine, tiny_model_dir):
    worker, rec, _ = engine
    rec.on_preview = lambda job_id, step: step == 2 and worker.cancel(job_id)
    job = worker.submit(_request(tiny_model_dir, steps=20))
    rec.wait()
    previews = [e[2] for e in rec.events if e[0] == "preview"]
    assert previews == [1, 2]  # the step after the cancel never reported
    assert rec.kinds(job)[-1] == "cancelled"
    assert "result" not in rec.kinds(job) and "finished" not in rec.kinds(job)


def test_stop_and_keep_saves_current_estimate(engine, tiny_model_dir):
    worker, rec, _ = engine
    rec.on_preview = lambda job_id, step: step == 3 and worker.stop_and_keep()
    job = worker.submit(_request(tiny_model_dir, steps=20))
    rec.wait()
    assert rec.kinds(job)[-2:] == ["result", "finished"]
    result = rec.events[-2][2]
    # requested during step 3's preview: step 4 finishes, then the engine keeps its x0
    assert result.steps_done == 4 and result.image.size == (64, 64)
    assert "Stopped at step: 4" in read_parameters(result.path)


def test_failure_is_reported_and_worker_keeps_serving(engine, tiny_model_dir, tmp_path):
    worker, rec, _ = engine
    rec.expected_final = 3
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{not json")
    bad = worker.submit(_request(broken))
    invalid = worker.submit(_request(tiny_model_dir, width=30))
    good = worker.submit(_request(tiny_model_dir, steps=2))
    rec.wait()
    failures = {e[1]: e[2] for e in rec.events if e[0] == "failed"}
    assert "model_index.json" in failures[bad]
    assert "multiple of 8" in failures[invalid]
    assert rec.kinds(good)[-1] == "finished"


def test_cancel_queued_job_never_starts(engine, tiny_model_dir):
    worker, rec, _ = engine
    rec.expected_final = 2
    first = worker.submit(_request(tiny_model_dir, steps=3))
    second = worker.submit(_request(tiny_model_dir, steps=3))
    worker.cancel(second)
    rec.wait()
    assert rec.kinds(second) == ["cancelled"]
    assert rec.kinds(first)[-1] == "finished"


@pytest.mark.parametrize("scheduler", ["Euler a", "DPM++ 2M SDE Karras"])  # stochastic samplers
def test_same_seed_same_pixels_and_batch_seeds_increment(engine, tiny_model_dir, scheduler):
    worker, rec, _ = engine
    rec.expected_final = 2
    worker.submit(_request(tiny_model_dir, scheduler=scheduler, steps=3, batch_count=2))
    worker.submit(_request(tiny_model_dir, scheduler=scheduler, steps=3, seed=8))
    rec.wait()
    results = [e[2] for e in rec.events if e[0] == "result"]
    assert [r.request.seed for r in results] == [7, 8, 8]
    a, b, c = (np.asarray(r.image) for r in results)
    assert np.array_equal(b, c)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    "scheduler", ["Euler", "DDPM", "DPM++ 2M", "DPM++ 2M Karras", "DPM++ 2M SDE", "UniPC"])
def test_every_scheduler_streams_x0_previews(engine, tiny_model_dir, scheduler):
    worker, rec, _ = engine
    job = worker.submit(_request(tiny_model_dir, scheduler=scheduler, steps=4))
    rec.wait()
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    assert [e[2] for e in rec.events if e[0] == "preview"] == [1, 2, 3, 4]


def test_switching_job_kinds_reuses_loaded_weights(engine, tiny_model_dir):
    worker, rec, cache = engine
    rec.expected_final = 3
    init = Image.new("RGB", (64, 64), (200, 30, 30))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    import io

    def png(img):
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()

    worker.submit(_request(tiny_model_dir, steps=2))
    worker.submit(_request(tiny_model_dir, steps=4, kind=JobKind.IMG2IMG, strength=0.5,
                           init_image=png(init), work_resolution=64))
    worker.submit(_request(tiny_model_dir, steps=4, kind=JobKind.INPAINT, strength=1.0,
                           init_image=png(init), mask_image=png(mask), work_resolution=64))
    rec.wait()
    assert [e[0] for e in rec.events if e[0] in ("finished", "failed")] == ["finished"] * 3
    assert cache.load_count == 1
    txt = cache.get(tiny_model_dir, JobKind.TXT2IMG)
    inpaint = cache.get(tiny_model_dir, JobKind.INPAINT)
    assert inpaint.unet is txt.unet and inpaint.vae is txt.vae


def test_cpu_threads_follow_model_size(tiny_model_dir, monkeypatch):
    import torch

    from studio.engine.device import DevicePlan
    from studio.engine.pipelines import threads_for_model

    monkeypatch.delenv("STUDIO_TORCH_THREADS", raising=False)
    before = torch.get_num_threads()
    cache = PipelineCache(DevicePlan("cpu", "float32", 2))
    try:
        pipe = cache.get(tiny_model_dir, JobKind.TXT2IMG)
        assert torch.get_num_threads() == 1  # a tiny UNet: thread sync would dominate
        monkeypatch.setattr("studio.engine.pipelines.SMALL_MODEL_PARAMS", 0)
        assert threads_for_model(pipe, DevicePlan("cpu", "float32", 2)) == 2
        monkeypatch.setenv("STUDIO_TORCH_THREADS", "2")
        assert threads_for_model(pipe, DevicePlan("cpu", "float32", 3)) == 3
    finally:
        torch.set_num_threads(before)


def test_cascade_reports_each_image_then_its_saved_upscaled_copy(engine, tiny_model_dir):
    worker, rec, _ = engine
    job = worker.submit(_request(tiny_model_dir, steps=2, batch_count=2, upscale_by=2))
    rec.wait()
    results = [e[2] for e in rec.events if e[0] == "result"]
    assert rec.kinds(job)[-1] == "finished"
    assert [(r.request.seed, r.upscaled_by) for r in results] == [(7, 1), (7, 2), (8, 1), (8, 2)]
    base, big = results[0], results[1]
    assert big.image.size == (128, 128) and big.path.is_file() and big.path != base.path
    params = parse_infotext(read_parameters(big.path))
    assert params["Seed"] == "7" and params["Size"] == "64x64"
    assert params["Postprocess upscale by"] == "2" and params["Postprocess upscaler"]
    # the SR output stays close to the image it enlarges
    shrunk = np.asarray(big.image.resize((64, 64), Image.Resampling.BOX), dtype=float)
    assert np.abs(shrunk - np.asarray(base.image, dtype=float)).mean() < 6


def test_cascade_with_a_missing_upscaler_fails_before_generating(engine, tiny_model_dir,
                                                                tmp_path):
    worker, rec, _ = engine
    job = worker.submit(_request(tiny_model_dir, upscale_by=4,
                                 upscaler=str(tmp_path / "no-such-model")))
    rec.wait()
    assert rec.kinds(job) == ["started", "failed"]
    assert "no-such-model" in rec.events[-1][2]
