"""Fast offline tests of the DDPM trainer, the exported models and the SR network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.training.diffusion import (
    ddpm_loss,
    forward_moments,
    min_snr_weights,
    training_scheduler,
)
from studio.training.trainer import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
EMOJI_SD = ROOT / "resources" / "models" / "emoji-sd"
SR_MODEL = ROOT / "resources" / "models" / "sr-residual"
COLORS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220), "white": (250,) * 3}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sixteen 8x8 coloured squares with captions."""
    folder = tmp_path_factory.mktemp("tiny")
    for index in range(16):
        name = list(COLORS)[index % 4]
        Image.new("RGB", (8, 8), COLORS[name]).save(folder / f"{index:02d}.png")
        (folder / f"{index:02d}.txt").write_text(f"{name} square")
    return folder


def tiny_config(data: Path, out: Path, **overrides: object) -> TrainConfig:
    values: dict = dict(
        data=str(data), out=str(out), vae=None, size=8, channels=(16, 32),
        attention=(False, True), head_dim=8, text_hidden=16, text_layers=1, vocab_size=300,
        batch_size=8, lr=3e-3, warmup=2, max_steps=40, sample_every=0, checkpoint_every=1000,
        threads=1,
    )
    values.update(overrides)
    return TrainConfig(**values)


def test_forward_process_matches_closed_form() -> None:
    scheduler = training_scheduler()
    generator = torch.Generator().manual_seed(0)
    x0 = torch.linspace(-1, 1, 8).repeat(20000, 1)
    for step in (0, 250, 500, 999):
        t = torch.full((x0.shape[0],), step, dtype=torch.long)
        noise = torch.randn(x0.shape, generator=generator)
        xt = scheduler.add_noise(x0, noise, t)
        mean, var = forward_moments(scheduler, x0, t)
        assert torch.allclose(xt.mean(0), mean[0], atol=0.03)
        assert torch.allclose(xt.var(0), var[0], rtol=0.05, atol=1e-4)
    abar = scheduler.alphas_cumprod
    assert abar[0] > 0.99 and abar[-1] < 0.01


def test_min_snr_weights_only_the_low_noise_steps() -> None:
    scheduler = training_scheduler()
    t = torch.tensor([0, 50, 500, 999])
    weights = min_snr_weights(scheduler, t, gamma=5.0)
    abar = scheduler.alphas_cumprod[t]
    assert torch.allclose(weights[:2], 5.0 * (1 - abar[:2]) / abar[:2])
    assert weights[0] < 0.01 and torch.equal(weights[2:], torch.ones(2))


def test_min_snr_loss_is_the_weighted_noise_mse() -> None:
    scheduler, x0 = training_scheduler(), torch.zeros(6, 2, 4, 4)
    zero_denoiser = lambda x, t: torch.zeros_like(x)  # noqa: E731
    plain = ddpm_loss(zero_denoiser, scheduler, x0, torch.Generator().manual_seed(3))
    weighted = ddpm_loss(zero_denoiser, scheduler, x0, torch.Generator().manual_seed(3), 5.0)
    generator = torch.Generator().manual_seed(3)
    t = torch.randint(0, 1000, (6,), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    per_sample = noise.pow(2).flatten(1).mean(1)
    assert torch.isclose(plain, per_sample.mean())
    assert torch.isclose(weighted, (per_sample * min_snr_weights(scheduler, t, 5.0)).mean())
    assert weighted < plain


def test_loss_falls_on_tiny_set(tiny_data: Path, tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tiny_data, tmp_path / "run"))
    losses = trainer.train()
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:5])
    images = trainer.generate(["red square"], steps=4)
    assert images[0].size == (8, 8)


def test_checkpoint_resumes_exactly(tiny_data: Path, tmp_path: Path) -> None:
    straight = Trainer(tiny_config(tiny_data, tmp_path / "a", max_steps=6))
    straight.train()
    first = Trainer(tiny_config(tiny_data, tmp_path / "b", max_steps=6))
    first.train(steps=3)
    first.save()
    resumed = Trainer(tiny_config(tiny_data, tmp_path / "b", max_steps=6))
    assert resumed.resume() and resumed.step == 3
    resumed.train()
    for name, value in straight.state()["ema_unet"].items():
        assert torch.equal(value, resumed.state()["ema_unet"][name]), name
    for name, value in straight.unet.state_dict().items():
        assert torch.equal(value, resumed.unet.state_dict()[name]), name


def test_tokenizer_round_trip(tmp_path: Path) -> None:
    from studio.training.text import build_tokenizer, tokenize

    tokenizer = build_tokenizer(["grinning face, smileys", "red apple, food"], tmp_path / "tok",
                                vocab_size=400, max_length=16)
    ids = tokenize(tokenizer, ["red apple", "unseen wörds ☃"])
    assert ids.shape == (2, 16)
    assert tokenizer.decode(ids[0], skip_special_tokens=True) == "red apple"
    assert "red</w>" in tokenizer.get_vocab()


@pytest.mark.skipif(not (EMOJI_SD / "model_index.json").exists(), reason="no shipped model")
def test_shipped_model_is_deterministic() -> None:
    from diffusers import StableDiffusionPipeline

    reference = json.loads((EMOJI_SD / "reference_sample.json").read_text())
    pipe = StableDiffusionPipeline.from_pretrained(EMOJI_SD)
    pipe.set_progress_bar_config(disable=True)
    image = pipe(
        reference["prompt"], num_inference_steps=reference["steps"],
        guidance_scale=reference["guidance"], height=64, width=64,
        generator=torch.Generator().manual_seed(reference["seed"]),
    ).images[0]
    small = np.asarray(image.resize((8, 8), Image.Resampling.BOX), dtype=np.float32)
    assert image.size == (64, 64)
    assert np.abs(small - np.array(reference["pixels_8x8"])).mean() < 3.0
    rgb = json.loads((EMOJI_SD / "latent_rgb.json").read_text())
    assert np.array(rgb["factors"]).shape == (4, 3) and len(rgb["bias"]) == 3


def test_sr_network_starts_at_bicubic_and_upscales() -> None:
    from studio.training.sr import ResidualSR, upscale

    model = ResidualSR(features=8, blocks=1).eval()
    image = Image.new("RGB", (16, 12), (200, 100, 50))
    assert upscale(model, image, 2).size == (32, 24)
    assert upscale(model, image, 4).size == (64, 48)
    x = torch.rand(1, 3, 8, 8)
    bicubic = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic")
    assert torch.allclose(model(x), bicubic, atol=1e-6)


@pytest.mark.skipif(not (SR_MODEL / "model.safetensors").exists(), reason="no shipped SR model")
def test_shipped_sr_model_loads() -> None:
    from studio.training.sr import load_sr_model, upscale

    model = load_sr_model(SR_MODEL)
    out = upscale(model, Image.new("RGB", (64, 64), (10, 120, 230)), 4)
    assert out.size == (256, 256)
    assert np.abs(np.asarray(out, dtype=np.float32) - [10, 120, 230]).mean() < 4.0


def test_warm_start_continues_from_an_exported_model(tiny_data: Path, tmp_path: Path) -> None:
    trained = Trainer(tiny_config(tiny_data, tmp_path / "a", max_steps=20))
    trained.train()
    folder = tmp_path / "exported"
    shutil.copytree(tmp_path / "a" / "tokenizer", folder / "tokenizer")  # as export ships it
    trained.text_encoder.save_pretrained(folder / "text_encoder")
    trained.unet.save_pretrained(folder / "unet")
    warm = Trainer(tiny_config(tiny_data, tmp_path / "b", max_steps=4, init_from=str(folder)))
    for name, value in trained.unet.state_dict().items():
        assert torch.equal(value, warm.unet.state_dict()[name]), name
    assert warm.tokenizer.get_vocab() == trained.tokenizer.get_vocab()
    assert torch.equal(warm.ids, trained.ids)
    assert (tmp_path / "b" / "tokenizer" / "vocab.json").is_file()  # what export copies
    fresh = Trainer(tiny_config(tiny_data, tmp_path / "c", max_steps=4))
    assert np.mean(warm.train()) < np.mean(fresh.train())
