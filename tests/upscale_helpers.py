"""Tiny random upscalers for the upscale tests (no downloads, no trained weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def build_tiny_sr(folder: Path, seed: int = 0) -> Path:
    """A small random ResidualSR exported like the real one (config.json + safetensors).

    The tail is randomised too (the trainer zero-initialises it), so the model adds detail
    and has real edge effects at tile borders.
    """
    import torch

    from studio.training.sr import ResidualSR, export_sr

    torch.manual_seed(seed)
    model = ResidualSR(features=8, blocks=2)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return export_sr(model, folder / "tiny-sr", step=0)


def noise_image(width: int, height: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A stationary texture: every row and column has the same gradient statistics."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4}[mode]
    array = (rng.random((height, width, channels)) * 255).astype(np.uint8)
    if mode == "RGBA":
        array[..., 3] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    return Image.fromarray(array, mode)
