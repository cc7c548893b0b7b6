"""Export a trained run as a Stable Diffusion folder (fp16 safetensors) + latent preview matrix."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline

from studio.training.common import CheckpointError, load_checkpoint
from studio.training.diffusion import make_scheduler
from studio.training.trainer import TrainConfig, Trainer


def fit_latent_rgb(latents: torch.Tensor, images: torch.Tensor) -> dict[str, list]:
    """Least-squares linear map latent (4 channels) -> RGB in [-1, 1] at latent resolution.

    ``latents`` are the scaled latents the pipeline denoises, ``images`` the matching pixels.
    """
    side = latents.shape[-1]
    small = torch.nn.functional.interpolate(images, size=(side, side), mode="area")
    x = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1]).double()
    y = small.permute(0, 2, 3, 1).reshape(-1, 3).double()
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    solution = torch.linalg.lstsq(design, y).solution
    return {
        "factors": [[round(v, 6) for v in row] for row in solution[:-1].tolist()],
        "bias": [round(v, 6) for v in solution[-1].tolist()],
    }


def build_pipeline(trainer: Trainer, scheduler: str = "euler_a") -> StableDiffusionPipeline:
    """Assemble the EMA weights into a StableDiffusionPipeline."""
    if trainer.vae is None:
        raise ValueError("exporting a Stable Diffusion folder needs a latent (VAE) run")
    return StableDiffusionPipeline(
        vae=trainer.vae,
        text_encoder=trainer.ema_text.model,
        tokenizer=trainer.tokenizer,
        unet=trainer.ema_unet.model,
        scheduler=make_scheduler(scheduler),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def export_run(trainer: Trainer, folder: Path, scheduler: str = "euler_a") -> Path:
    """Write the fp16 Stable Diffusion folder and ``latent_rgb.json`` into ``folder``."""
    pipe = build_pipeline(trainer, scheduler)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.to(torch.float16).save_pretrained(folder, safe_serialization=True)
    pipe.to(torch.float32)
    _finish_folder(trainer, folder)
    rgb = fit_latent_rgb(trainer.latent_mean, trainer.images)
    (folder / "latent_rgb.json").write_text(json.dumps(rgb, indent=2) + "\n")
    info = {"step": trainer.step, "config": trainer.state()["config"]}
    (folder / "training_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return folder


def _finish_folder(trainer: Trainer, folder: Path) -> None:
    """Make a plain ``from_pretrained(folder)`` load every component in float32 (weights stay
    fp16 on disk), and ship vocab.json + merges.txt next to tokenizer.json."""
    config_path = folder / "text_encoder" / "config.json"
    config = json.loads(config_path.read_text())
    config["dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(trainer.out / "tokenizer" / name, folder / "tokenizer" / name)


REFERENCE = {"prompt": "grinning face, smileys & emotion, face smiling", "seed": 0, "steps": 8,
             "guidance": 4.0}


@torch.no_grad()
def write_reference_sample(folder: Path) -> dict:
    """Reload the exported folder and store a small fixed-seed sample for regression tests."""
    from PIL import Image

    pipe = StableDiffusionPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    image = pipe(
        REFERENCE["prompt"], num_inference_steps=REFERENCE["steps"],
        guidance_scale=REFERENCE["guidance"], height=64, width=64,
        generator=torch.Generator().manual_seed(REFERENCE["seed"]),
    ).images[0]
    small = image.resize((8, 8), Image.Resampling.BOX)
    pixels = [[list(small.getpixel((x, y))) for x in range(8)] for y in range(8)]
    reference = dict(REFERENCE, pixels_8x8=pixels)
    (folder / "reference_sample.json").write_text(json.dumps(reference) + "\n")
    image.save(folder / "reference_sample.png")
    return reference


def export_checkpoint(run: Path, folder: Path, scheduler: str = "euler_a") -> Path:
    """Rebuild a Trainer from ``run/checkpoint.pt`` (loaded weights-only) and export it.

    Raises CheckpointError for a missing, unreadable or refused (code-carrying) checkpoint.
    """
    trainer = Trainer(_run_config(Path(run)))
    if not trainer.resume():
        raise CheckpointError(f"{run}: the checkpoint disappeared before it could be loaded")
    export_run(trainer, folder, scheduler)
    write_reference_sample(folder)
    return folder


def _run_config(run: Path) -> TrainConfig:
    """The TrainConfig stored in ``run/checkpoint.pt``, pointed at ``run`` (it may have moved)."""
    state = load_checkpoint(run / "checkpoint.pt")
    if state is None:
        raise CheckpointError(f"{run}: no checkpoint.pt (is it a training run folder?)")
    stored = state.get("config")
    names = {f.name for f in fields(TrainConfig)}
    if not isinstance(stored, dict) or not set(stored) <= names:
        raise CheckpointError(f"{run / 'checkpoint.pt'}: no usable training config in it")
    try:
        config = TrainConfig(**stored)
    except TypeError as exc:
        raise CheckpointError(f"{run / 'checkpoint.pt'}: bad training config ({exc})") from None
    config.out, config.threads = str(run), 0
    return config
