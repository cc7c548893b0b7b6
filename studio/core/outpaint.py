"""Outpainting image math: a bigger canvas, its pre-filled border and the mask to generate.

An outpaint is an inpaint of the extended canvas: the new area plus a band that overlaps the
old image (so the seam is regenerated) is masked; every old pixel outside that band and the
paste-back feather is copied back exactly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from studio.core.outpaint_sides import (  # noqa: F401 - re-exported for callers
    FILL_MODES,
    MAX_SIDE_EXTEND,
    Sides,
    check_outpaint,
    describe,
)

OVERLAP = 16  # px of the old image the mask covers along each extended edge
LATENT_CELL = 8


def _pad(rgb: np.ndarray, sides: Sides, mode: str) -> np.ndarray:
    widths = ((sides.top, sides.bottom), (sides.left, sides.right), (0, 0))
    return np.pad(rgb, widths, mode=mode)  # type: ignore[call-overload]


def _blurred(rgb: np.ndarray, radius: float) -> np.ndarray:
    image = Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image).astype(np.float32)


def extend_image(image: Image.Image, sides: Sides, fill: str = "edge",
                 seed: int = 0) -> Image.Image:
    """`image` (RGB) on the bigger canvas; the old pixels exactly where they were, the new
    area pre-filled: `edge` (stretched border, blurred), `mirror` or `noise` (on the blur).
    `model` gives the edge fill here: the engine then paints the new area with the model."""
    check_outpaint(sides, fill)
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    if fill == "mirror":
        out = _pad(rgb, sides, "symmetric")
    else:
        padded = _pad(rgb, sides, "edge")
        filled = _blurred(padded, max(4.0, max(sides.as_dict().values()) / 8))
        if fill == "noise":
            rng = np.random.default_rng(seed)
            filled = filled + rng.normal(0.0, 48.0, filled.shape)
        out = np.clip(np.round(filled), 0, 255).astype(np.uint8)
    out[sides.top:sides.top + h, sides.left:sides.left + w] = rgb
    return Image.fromarray(out)


def outpaint_mask(size: tuple[int, int], sides: Sides, overlap: int = OVERLAP) -> np.ndarray:
    """uint8 (H, W) mask of the extended canvas (`size` = the old image's): 255 on the new
    area and on an `overlap`-px band (rounded up to the latent cell) along each extended
    edge of the old image; 0 elsewhere."""
    band = -(-max(0, overlap) // LATENT_CELL) * LATENT_CELL
    w, h = size
    width, height = sides.extended_size(size)
    mask = np.full((height, width), 255, np.uint8)
    left = sides.left + (band if sides.left else 0)
    top = sides.top + (band if sides.top else 0)
    right = sides.left + w - (band if sides.right else 0)
    bottom = sides.top + h - (band if sides.bottom else 0)
    if right > left and bottom > top:
        mask[top:bottom, left:right] = 0
    return mask


def old_image_box(size: tuple[int, int], sides: Sides) -> tuple[int, int, int, int]:
    """Where the old image sits on the extended canvas: (left, top, right, bottom)."""
    return sides.left, sides.top, sides.left + size[0], sides.top + size[1]
