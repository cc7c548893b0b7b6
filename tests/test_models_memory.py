"""Memory options, the out-of-memory fallback (injected OOMs) and offline hub ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studio.core.models import ModelRegistry, resolve_model
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.device import plan_device
from studio.engine.memory import MemoryOptions, apply_options, attention_kind
from studio.engine.pipelines import ModelLoadError, PipelineCache
from tests.engine_helpers import running_worker
from tests.test_engine import Recorder


class StatusRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.status: list[str] = []

    def engine_status(self, text: str) -> None:
        self.status.append(text)


@pytest.fixture
def engine(tmp_path: Path):
    recorder = StatusRecorder()
    with running_worker(recorder, tmp_path / "outputs") as (worker, ctx):
        yield worker, recorder, ctx.cache


def _request(model: Path, **kw: object) -> GenerateRequest:
    base: dict = dict(model_path=str(model), prompt="a red apple", steps=2, guidance=5.0,
                      seed=7, width=64, height=64, scheduler="DDIM")
    base.update(kw)
    return GenerateRequest(**base)


def _fail_first(calls: list[int], original, times: int = 1):  # noqa: ANN001, ANN202
    def wrapper(*args, **kwargs):  # noqa: ANN202
        calls.append(1)
        if len(calls) <= times:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return original(*args, **kwargs)
    return wrapper


def test_decode_oom_retries_tiled_and_reports(engine, tiny_model_dir) -> None:
    worker, rec, cache = engine
    pipe = cache.get(tiny_model_dir, JobKind.TXT2IMG)
    calls: list[int] = []
    pipe.vae.decode = _fail_first(calls, pipe.vae.decode)
    job = worker.submit(_request(tiny_model_dir))
    rec.wait()
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    assert len(calls) == 2 and pipe.vae.use_tiling
    assert any("decoding again in tiles" in s for s in rec.status)
    assert not cache.low_memory  # the steps were not redone


def test_unet_oom_switches_to_low_memory_and_retries_once(engine, tiny_model_dir) -> None:
    worker, rec, cache = engine
    pipe = cache.get(tiny_model_dir, JobKind.TXT2IMG)
    calls: list[int] = []
    pipe.unet.forward = _fail_first(calls, pipe.unet.forward)
    job = worker.submit(_request(tiny_model_dir))
    rec.wait()
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    assert [e[2] for e in rec.events if e[0] == "preview"] == [1, 2]
    assert any(s.startswith("Out of memory: retrying once") for s in rec.status)
    assert cache.low_memory and "Sliced" in attention_kind(pipe) and pipe.vae.use_tiling
    # pipelines derived later start in low-memory mode too
    assert "Sliced" in attention_kind(cache.get(tiny_model_dir, JobKind.IMG2IMG))


def test_repeated_oom_fails_the_job_cleanly_and_engine_keeps_serving(engine, tiny_model_dir):
    worker, rec, cache = engine
    pipe = cache.get(tiny_model_dir, JobKind.TXT2IMG)
    original = pipe.unet.forward
    pipe.unet.forward = _fail_first([], original, times=99)
    job = worker.submit(_request(tiny_model_dir))
    rec.wait()
    assert rec.kinds(job) == ["started", "failed"]
    assert "Out of memory" in rec.events[-1][2] and rec.causes[job] == "out_of_memory"
    pipe.unet.forward = original
    rec.done.clear()
    rec.expected_final = 2
    second = worker.submit(_request(tiny_model_dir))
    rec.wait()
    assert rec.kinds(second)[-1] == "finished"


def test_options_on_cpu_skip_offload_with_a_reason(tiny_model_dir) -> None:
    cache = PipelineCache(plan_device("cpu"), MemoryOptions())
    pipe = cache.get(tiny_model_dir, JobKind.TXT2IMG)
    assert "AttnProcessor2_0" in attention_kind(pipe)  # SDPA by default
    notes = apply_options(pipe, plan_device("cpu"), MemoryOptions(
        cpu_offload=True, attention_slicing=True, vae_tiling=True, vae_slicing=True))
    assert any("CPU offload skipped" in n for n in notes)
    assert {"attention slicing", "VAE tiling", "VAE slicing"} <= set(notes)
    assert "channels-last UNet" not in notes  # CUDA only


def test_skipped_option_is_reported_once(tiny_model_dir) -> None:
    from studio.engine.runner import GenerationRunner, JobControl

    cache = PipelineCache(plan_device("cpu"), MemoryOptions(cpu_offload=True))
    runner = GenerationRunner(cache, max_preview_fps=0)
    status: list[str] = []
    for _ in range(2):
        runner.run_one(_request(tiny_model_dir), JobControl(), on_status=status.append)
    assert len(status) == 1 and status[0].startswith("CPU offload skipped: it needs a CUDA GPU")


def test_options_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_VAE_TILING", "1")
    monkeypatch.setenv("STUDIO_COMPILE", "yes")
    monkeypatch.setenv("STUDIO_CHANNELS_LAST", "0")
    options = MemoryOptions.from_env()
    assert options.vae_tiling and options.compile_unet and not options.channels_last
    assert not options.cpu_offload


def test_hub_id_offline_gives_a_clear_message(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    entry = resolve_model("nobody/not-a-real-model", ModelRegistry())
    assert entry.pipeline_class == "hub"
    cache = PipelineCache(plan_device("cpu"))
    with pytest.raises(ModelLoadError) as info:
        cache.get(entry.path, JobKind.TXT2IMG)
    message = str(info.value)
    assert "'nobody/not-a-real-model' is not in the local Hugging Face cache" in message
    assert "emoji-sd" in message and "huggingface-cli download" in message


def test_hub_id_loads_from_the_local_cache(monkeypatch, tmp_path, tiny_model_dir) -> None:
    import shutil

    import huggingface_hub.constants

    cache = tmp_path / "hub"
    repo = cache / "models--studio-test--tiny-sd"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = resolve_model("studio-test/tiny-sd", ModelRegistry())
    pipe = PipelineCache(plan_device("cpu")).get(entry.path, JobKind.TXT2IMG)
    assert type(pipe).__name__ == "StableDiffusionPipeline"
