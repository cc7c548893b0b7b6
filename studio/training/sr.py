"""Residual super-resolution: a small CNN predicts the detail missing from bicubic upsampling (2x).

4x is two 2x passes. Trained with an L1 regression loss on random crops of photographs.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from studio.core.safe_read import read_json_object
from studio.training.common import (
    JsonlLog,
    configure_cpu,
    list_images,
    load_checkpoint,
    save_checkpoint,
    step_generator,
)


@dataclass
class SRConfig:
    """Hyper-parameters of the SR run."""

    data: str = "data/photos/train"
    out: str = "runs/sr"
    export: str = "resources/models/sr-residual"
    features: int = 32
    blocks: int = 6
    crop: int = 96
    batch_size: int = 16
    lr: float = 1e-3
    max_steps: int = 3000
    max_minutes: float = 8.0
    checkpoint_every: int = 200
    seed: int = 0
    threads: int = 1


class ResidualBlock(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class ResidualSR(nn.Module):
    """2x upscaler: bicubic(x) + PixelShuffle(CNN(x)). Images in [0, 1], (B, 3, H, W)."""

    def __init__(self, features: int = 32, blocks: int = 6) -> None:
        super().__init__()
        self.config = {"features": features, "blocks": blocks, "scale": 2}
        self.head = nn.Conv2d(3, features, 3, padding=1)
        self.body = nn.Sequential(*(ResidualBlock(features) for _ in range(blocks)))
        self.tail = nn.Conv2d(features, 3 * 4, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        feats = self.head(x)
        detail = F.pixel_shuffle(self.tail(self.body(feats) + feats), 2)
        return base + detail


def load_sr_model(path: str | Path) -> ResidualSR:
    """Load ``config.json`` + ``model.safetensors`` from ``path`` as a float32 eval model."""
    path = Path(path)
    config = read_json_object(path / "config.json")
    model = ResidualSR(int(config["features"]), int(config["blocks"]))
    state = {k: v.float() for k, v in load_file(path / "model.safetensors").items()}
    model.load_state_dict(state)
    return model.eval()


@torch.no_grad()
def upscale(model: nn.Module, image: Image.Image, scale: int = 2) -> Image.Image:
    """Upscale a PIL image by ``scale`` (2 or 4 natively; others via the next power of 2)."""
    passes = max(1, math.ceil(math.log2(scale)))
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    device = next(model.parameters()).device
    x = torch.from_numpy(array).permute(2, 0, 1)[None].to(device)
    for _ in range(passes):
        x = model(x).clamp(0, 1)
    target = (image.width * scale, image.height * scale)
    out = Image.fromarray((x[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))
    return out if out.size == target else out.resize(target, Image.Resampling.BICUBIC)


def downscale(hr: torch.Tensor) -> torch.Tensor:
    """The degradation used for training: antialiased bicubic 2x downsampling."""
    return F.interpolate(hr, scale_factor=0.5, mode="bicubic", antialias=True).clamp(0, 1)


def load_photos(folder: Path) -> list[torch.Tensor]:
    photos = []
    for path in list_images(folder):
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        photos.append(torch.from_numpy(array).permute(2, 0, 1).contiguous())
    return photos


def random_crops(photos: list[torch.Tensor], size: int, count: int, gen: torch.Generator):
    """``count`` random HR crops (with flips) from random photos."""
    crops = []
    for _ in range(count):
        photo = photos[int(torch.randint(len(photos), (1,), generator=gen))]
        top = int(torch.randint(photo.shape[1] - size + 1, (1,), generator=gen))
        left = int(torch.randint(photo.shape[2] - size + 1, (1,), generator=gen))
        crop = photo[:, top : top + size, left : left + size]
        if torch.rand(1, generator=gen).item() < 0.5:
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.stack(crops)


def train_sr(config: SRConfig) -> Path:
    """Train (or resume) the SR model and export fp16 weights; returns the export folder."""
    configure_cpu(config.threads)
    torch.manual_seed(config.seed)
    out = Path(config.out)
    photos = load_photos(Path(config.data))
    model = ResidualSR(config.features, config.blocks)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    step, state = 0, load_checkpoint(out / "checkpoint.pt")
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    log, deadline = JsonlLog(out / "log.jsonl"), time.time() + config.max_minutes * 60
    for _ in tqdm(range(step, config.max_steps), initial=step, total=config.max_steps, desc="sr"):
        gen = step_generator(config.seed, step)
        hr = random_crops(photos, config.crop, config.batch_size, gen)
        lr_img = downscale(hr)
        loss = (model(lr_img) - hr).abs().mean()
        base = (F.interpolate(lr_img, scale_factor=2, mode="bicubic") - hr).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        log.write(step=step, l1=round(loss.item(), 6), bicubic_l1=round(base.item(), 6))
        done = time.time() > deadline or step == config.max_steps
        if step % config.checkpoint_every == 0 or done:
            save_checkpoint(out / "checkpoint.pt", {"model": model.state_dict(),
                            "optimizer": optimizer.state_dict(), "step": step,
                            "config": asdict(config)})
        if done:
            break
    return export_sr(model, Path(config.export), step)


def export_sr(model: ResidualSR, folder: Path, step: int) -> Path:
    """Write ``config.json`` and fp16 ``model.safetensors``."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / "model.safetensors")
    config = dict(model.config, steps=step, architecture="ResidualSR")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder
