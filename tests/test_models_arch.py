"""Each supported architecture loads through the registry/PipelineCache and generates."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.models import ModelRegistry
from studio.core.requests import SCHEDULER_NAMES, GenerateRequest, JobKind
from studio.engine.device import plan_device
from studio.engine.pipelines import ModelLoadError, PipelineCache
from studio.engine.preview import SDXL_FACTORS, X0Tap, preview_for_model
from studio.engine.runner import GenerationRunner, JobControl
from studio.engine.schedulers import make_scheduler
from tests.tiny_arch import build_all


@pytest.fixture(scope="module")
def archs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("archs"))


@pytest.fixture(scope="module")
def runner() -> GenerationRunner:
    return GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)


def _request(model: Path, **kw: object) -> GenerateRequest:
    base: dict = dict(model_path=str(model), prompt="a red apple", steps=2, guidance=5.0,
                      seed=3, width=64, height=64, scheduler="Euler")
    base.update(kw)
    return GenerateRequest(**base)


def _images() -> tuple[Image.Image, Image.Image]:
    rng = np.random.default_rng(0)
    init = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    return init, Image.fromarray(mask)


def test_registry_lists_generators_but_not_upscalers(archs: dict[str, Path]) -> None:
    names = {e.name: e for e in ModelRegistry(archs["sd1"].parent.parent / "none",
                                              [archs["sdxl"].parent]).entries()}
    assert {"tiny-sd2-v", "tiny-lcm", "tiny-sd-inpaint", "tiny-sdxl"} <= set(names)
    assert "tiny-x4-upscaler" not in names
    assert names["tiny-sdxl"].pipeline_class == "StableDiffusionXLPipeline"


@pytest.mark.parametrize(("arch", "scheduler"), [
    ("sd1", "DPM++ 2M Karras"), ("sd2v", "Euler"), ("sdxl", "Euler a"), ("lcm", "LCM"),
])
def test_txt2img_two_steps_with_previews(archs, runner, arch: str, scheduler: str) -> None:
    previews: list[np.ndarray] = []
    output = runner.run_one(_request(archs[arch], scheduler=scheduler), JobControl(),
                            lambda step, total, rgb: previews.append(rgb))
    assert output.image.size == (64, 64) and not output.partial
    assert len(previews) == 2 and previews[0].shape == (8, 8, 3)
    pipe = runner.cache.get(archs[arch], JobKind.TXT2IMG)
    assert type(pipe.scheduler).__name__ == {"sd1": "DPMSolverMultistepScheduler",
                                             "sd2v": "EulerDiscreteScheduler",
                                             "sdxl": "EulerAncestralDiscreteScheduler",
                                             "lcm": "LCMScheduler"}[arch]


def test_sd2_v_prediction_and_spacing_survive_every_scheduler(archs, runner) -> None:
    pipe = runner.cache.get(archs["sd2v"], JobKind.TXT2IMG)
    for name in SCHEDULER_NAMES:
        scheduler = make_scheduler(name, pipe.scheduler.config)
        assert scheduler.config.prediction_type == "v_prediction", name
        assert scheduler.config.timestep_spacing == "trailing", name


@pytest.mark.parametrize("kind", [JobKind.IMG2IMG, JobKind.INPAINT])
def test_sdxl_img2img_and_inpaint_share_weights(archs, runner, kind: JobKind) -> None:
    init, mask = _images()
    previews: list[np.ndarray] = []
    output = runner.run_one(_request(archs["sdxl"], kind=kind, strength=1.0), JobControl(),
                            lambda s, t, rgb: previews.append(rgb), init=init, mask=mask)
    assert output.image.size == (64, 64) and previews
    base = runner.cache.get(archs["sdxl"], JobKind.TXT2IMG)
    derived = runner.cache.get(archs["sdxl"], kind)
    assert "XL" in type(derived).__name__ and derived.text_encoder_2 is base.text_encoder_2
    assert preview_for_model(archs["sdxl"], type(derived).__name__).factors == SDXL_FACTORS


def test_nine_channel_inpaint_model(archs, runner) -> None:
    init, mask = _images()
    output = runner.run_one(_request(archs["inpaint"], kind=JobKind.INPAINT, strength=1.0),
                            JobControl(), init=init, mask=mask)
    assert output.image.size == (64, 64)
    assert runner.cache.get(archs["inpaint"], JobKind.INPAINT).unet.config.in_channels == 9
    with pytest.raises(ModelLoadError, match="inpainting model"):
        runner.run_one(_request(archs["inpaint"]), JobControl())


def _noisy_sample(scheduler, x0: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The sample the scheduler expects at its first timestep, and that step's alpha-bar."""
    t = int(scheduler.timesteps[0])
    sigmas = getattr(scheduler, "sigmas", None)
    if sigmas is not None and len(sigmas) and float(scheduler.init_noise_sigma) > 1:
        sigma = float(sigmas[0])  # Euler family: x = x0 + sigma * eps
        return x0 + sigma * eps, 1.0 / (1.0 + sigma**2)
    if sigmas is not None and len(sigmas):  # DPM-Solver / UniPC: VP sample at sigmas[0]
        alpha_bar = 1.0 / (1.0 + float(sigmas[0]) ** 2)
    else:
        alpha_bar = float(scheduler.alphas_cumprod[t])
    return alpha_bar**0.5 * x0 + (1 - alpha_bar) ** 0.5 * eps, alpha_bar


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_x0_tap_recovers_the_clean_latents(tiny_model_dir, name: str, prediction: str) -> None:
    from diffusers import DDIMScheduler

    config = dict(DDIMScheduler.from_pretrained(tiny_model_dir, subfolder="scheduler").config)
    scheduler = make_scheduler(name, {**config, "prediction_type": prediction})
    scheduler.set_timesteps(4)
    tap = X0Tap(scheduler)
    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(1, 4, 8, 8, generator=gen), torch.randn(1, 4, 8, 8, generator=gen)
    sample, alpha_bar = _noisy_sample(scheduler, x0, eps)
    model_output = eps if prediction == "epsilon" else (
        alpha_bar**0.5 * eps - (1 - alpha_bar) ** 0.5 * x0)
    takes_gen = "generator" in inspect.signature(scheduler.step).parameters
    extra = {"generator": gen} if takes_gen else {}
    scheduler.step(model_output, scheduler.timesteps[0], sample, **extra)
    assert tap.x0 is not None
    torch.testing.assert_close(tap.x0, x0, atol=2e-3, rtol=1e-3)
