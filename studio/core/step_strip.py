"""Export recorded denoising steps: a PNG strip (one row per step) or an animated GIF/WebP."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from studio.core.explore_requests import StepFrame

COLUMNS = ("x_t", "predicted noise", "predicted x0")
LABEL_HEIGHT = 14


def _tile(array: np.ndarray, side: int) -> Image.Image:
    image = Image.fromarray(np.ascontiguousarray(array[..., :3], dtype=np.uint8))
    scale = max(1, side // max(image.size))
    size = (image.width * scale, image.height * scale)
    return image.resize(size, Image.Resampling.NEAREST)


def frame_row(frame: StepFrame, side: int = 128, label: bool = True) -> Image.Image:
    """x_t | ε̂ | x̂0 side by side, each upscaled (nearest) to about `side` pixels."""
    tiles = [_tile(a, side) for a in (frame.xt, frame.eps, frame.x0)]
    width, height = tiles[0].size
    top = LABEL_HEIGHT if label else 0
    row = Image.new("RGB", (3 * width + 4, height + top), (31, 32, 35))
    for i, tile in enumerate(tiles):
        row.paste(tile.resize((width, height), Image.Resampling.NEAREST), (i * (width + 2), top))
    if label:
        text = f"step {frame.index + 1}  t={frame.timestep}"
        ImageDraw.Draw(row).text((2, 1), text, fill=(230, 230, 230))
    return row


def strip_image(frames: Sequence[StepFrame], side: int = 128) -> Image.Image:
    """Every step as a row of x_t | ε̂ | x̂0, top to bottom."""
    if not frames:
        raise ValueError("no recorded steps to export")
    rows = [frame_row(f, side) for f in frames]
    sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), (31, 32, 35))
    y = 0
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height
    return sheet


def export_steps(frames: Sequence[StepFrame], path: Path, side: int = 128,
                 frame_ms: int = 250) -> Path:
    """Write `.png` (strip), `.gif` or `.webp` (animation, one frame per step)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        strip_image(frames, side).save(path)
        return path
    if suffix not in (".gif", ".webp"):
        raise ValueError(f"export as .png, .gif or .webp (got {suffix or 'no suffix'})")
    if not frames:
        raise ValueError("no recorded steps to export")
    images = [frame_row(f, side) for f in frames]
    extra = {"lossless": True} if suffix == ".webp" else {}
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0,
                   **extra)
    return path
