"""On the CPU, cancel lands inside a step (before the next UNet/VAE block), not after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.requests import GenerateRequest
from studio.engine.device import plan_device
from studio.engine.pipelines import PipelineCache
from studio.engine.runner import GenerationRunner, JobCancelled, JobControl


def _request(model: Path) -> GenerateRequest:
    return GenerateRequest(model_path=str(model), prompt="apple", steps=3, seed=1, width=64,
                           height=64, scheduler="Euler")


def _all_hooks(pipe) -> int:  # noqa: ANN001
    return sum(len(m._forward_pre_hooks) for m in [*pipe.unet.modules(), *pipe.vae.modules()])


@pytest.mark.parametrize("where", ["unet", "vae"])
def test_cancel_stops_mid_step_or_mid_decode(tiny_model_dir: Path, where: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # in-step cancel points are for full-size models: treat the tiny one as full-size
    monkeypatch.setattr("studio.engine.pipelines.SMALL_MODEL_PARAMS", 0)
    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    pipe = runner.cache.get(tiny_model_dir, _request(tiny_model_dir).kind)
    control = JobControl()
    ran_after: list[str] = []
    trigger = pipe.unet.down_blocks[0] if where == "unet" else pipe.vae.decoder.mid_block
    after = pipe.unet.up_blocks[-1] if where == "unet" else pipe.vae.decoder.up_blocks[-1]
    hooks = [trigger.register_forward_pre_hook(lambda m, a: control.cancel.set()),
             after.register_forward_hook(lambda m, a, o: ran_after.append("ran"))]
    previews: list[int] = []
    try:
        with pytest.raises(JobCancelled):
            runner.run_one(_request(tiny_model_dir), control,
                           lambda step, total, rgb: previews.append(step))
    finally:
        for hook in hooks:
            hook.remove()
    if where == "unet":
        assert previews == [] and ran_after == []  # the first step never finished
    else:
        assert previews == [1, 2, 3] and ran_after == [] and where == "vae"
    assert _all_hooks(pipe) == 0  # the cancel checks are removed after the run
    output = runner.run_one(_request(tiny_model_dir), JobControl())
    assert output.steps_done == 3 and not output.partial


def test_small_models_run_without_in_step_hooks(tiny_model_dir: Path) -> None:
    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    pipe = runner.cache.get(tiny_model_dir, _request(tiny_model_dir).kind)
    seen: list[int] = []
    runner.run_one(_request(tiny_model_dir), JobControl(),
                   lambda step, total, image: seen.append(len(pipe.unet.down_blocks[0]
                                                              ._forward_pre_hooks)))
    assert seen and set(seen) == {0}
