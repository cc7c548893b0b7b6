"""Train the small AutoencoderKL (64x64 RGB <-> 16x16x4 latents, scale factor 4)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from tqdm import tqdm

from studio.training.common import (
    JsonlLog,
    configure_cpu,
    image_grid,
    load_checkpoint,
    load_image_folder,
    save_checkpoint,
    step_generator,
    tensor_to_pil,
)


@dataclass
class VAEConfig:
    """Hyper-parameters of the VAE run (stored in every checkpoint)."""

    data: str = "data/emoji"
    out: str = "runs/vae"
    size: int = 64
    channels: tuple[int, ...] = (32, 32, 64)
    latent_channels: int = 4
    batch_size: int = 32
    lr: float = 1e-3
    max_steps: int = 600
    kl_weight: float = 1e-5
    checkpoint_every: int = 50
    seed: int = 0
    threads: int = 1


def build_vae(config: VAEConfig) -> AutoencoderKL:
    """The small three-block AutoencoderKL (downsampling 4x)."""
    blocks = len(config.channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=tuple(config.channels),
        layers_per_block=1,
        latent_channels=config.latent_channels,
        norm_num_groups=16,
        sample_size=config.size,
    )


def vae_loss(vae: AutoencoderKL, x: torch.Tensor, generator: torch.Generator, kl: float) -> dict:
    """L1 + MSE reconstruction plus a small KL term."""
    posterior = vae.encode(x).latent_dist
    z = posterior.sample(generator=generator)
    recon = vae.decode(z).sample
    l1 = (recon - x).abs().mean()
    mse = ((recon - x) ** 2).mean()
    kl_term = posterior.kl().mean() / x[0].numel()
    return {"loss": l1 + mse + kl * kl_term, "l1": l1, "mse": mse, "kl": kl_term}


def lr_at(step: int, config: VAEConfig) -> float:
    """Linear warm-up then cosine decay to 10%."""
    warm = 20
    if step < warm:
        return config.lr * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, config.max_steps - warm))
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_vae(config: VAEConfig) -> Path:
    """Train (or resume) the VAE; returns the folder of the exported diffusers model."""
    configure_cpu(config.threads)
    torch.manual_seed(config.seed)
    out = Path(config.out)
    data = load_image_folder(Path(config.data), config.size, captions=False).images
    vae = build_vae(config)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.lr, weight_decay=0.0)
    step = 0
    state = load_checkpoint(out / "checkpoint.pt")
    if state is not None:
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    log = JsonlLog(out / "log.jsonl")
    bar = tqdm(total=config.max_steps, initial=step, desc="vae")
    while step < config.max_steps:
        gen = step_generator(config.seed, step)
        idx = torch.randint(len(data), (config.batch_size,), generator=gen)
        x = data[idx]
        flip = torch.rand(config.batch_size, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        terms = vae_loss(vae, x, gen, config.kl_weight)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{terms['loss'].item():.4f}")
        log.write(step=step, **{k: round(v.item(), 6) for k, v in terms.items()})
        if step % config.checkpoint_every == 0 or step == config.max_steps:
            save_checkpoint(out / "checkpoint.pt", _state(vae, optimizer, step, config))
    bar.close()
    return export_vae(vae, data, out / "vae")


def _state(vae: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int, config) -> dict:
    return {"model": vae.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
            "config": asdict(config)}


@torch.no_grad()
def latent_std(vae: AutoencoderKL, data: torch.Tensor, batch: int = 64) -> float:
    """Standard deviation of the posterior means over the data set."""
    latents = [vae.encode(data[i : i + batch]).latent_dist.mean for i in range(0, len(data), batch)]
    return torch.cat(latents).std().item()


@torch.no_grad()
def export_vae(vae: AutoencoderKL, data: torch.Tensor, folder: Path) -> Path:
    """Set ``scaling_factor`` = 1/std(latents), save diffusers format and a recon grid."""
    vae.eval()
    std = latent_std(vae, data)
    vae.register_to_config(scaling_factor=1.0 / std)
    vae.save_pretrained(folder)
    sample = data[:16]
    recon = vae.decode(vae.encode(sample).latent_dist.mean).sample
    grid = image_grid([tensor_to_pil(t) for t in torch.cat([sample, recon])], columns=16)
    grid.save(folder.parent / "vae_reconstruction.png")
    mse = ((recon - sample) ** 2).mean().item()
    psnr = 10 * math.log10(4.0 / mse)
    stats = {"latent_std": std, "scaling_factor": 1.0 / std, "recon_psnr_db_16": psnr}
    (folder.parent / "vae_stats.json").write_text(json.dumps(stats, indent=2))
    return folder
