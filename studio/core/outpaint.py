"""Outpainting image math: a bigger canvas, its pre-filled border and the mask to generate.

An outpaint is an inpaint of the extended canvas: the new area plus a band that overlaps the
old image (so the seam is regenerated) is masked; every old pixel outside that band and the
paste-back feather is copied back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

FILL_MODES: tuple[str, ...] = ("edge", "mirror", "noise")
MAX_SIDE_EXTEND = 2048  # px added on one side at most
OVERLAP = 16  # px of the old image the mask covers along each extended edge
LATENT_CELL = 8


@dataclass(frozen=True)
class Sides:
    """Pixels to add on each side of an image."""

    left: int = 0
    right: int = 0
    top: int = 0
    bottom: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"left": self.left, "right": self.right, "top": self.top, "bottom": self.bottom}

    def any(self) -> bool:
        return any(v > 0 for v in self.as_dict().values())

    def extended_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return size[0] + self.left + self.right, size[1] + self.top + self.bottom


def check_outpaint(sides: Sides, fill: str) -> None:
    """Raise ValueError with a user-facing message for unusable sides or fill."""
    for name, value in sides.as_dict().items():
        if value < 0 or value > MAX_SIDE_EXTEND:
            raise ValueError(f"outpaint {name} must be 0–{MAX_SIDE_EXTEND} px (got {value})")
    if not sides.any():
        raise ValueError("outpaint needs at least one side to extend: left, right, top or "
                         "bottom must be above 0 px")
    if fill not in FILL_MODES:
        raise ValueError(f"unknown outpaint fill {fill!r}; choose one of: "
                         f"{', '.join(FILL_MODES)}")


def describe(sides: Sides, fill: str) -> str:
    """The infotext value: `left 64, right 0, top 0, bottom 0, fill edge`."""
    return ", ".join(f"{k} {v}" for k, v in sides.as_dict().items()) + f", fill {fill}"


def _pad(rgb: np.ndarray, sides: Sides, mode: str) -> np.ndarray:
    widths = ((sides.top, sides.bottom), (sides.left, sides.right), (0, 0))
    return np.pad(rgb, widths, mode=mode)  # type: ignore[call-overload]


def _blurred(rgb: np.ndarray, radius: float) -> np.ndarray:
    image = Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image).astype(np.float32)


def extend_image(image: Image.Image, sides: Sides, fill: str = "edge",
                 seed: int = 0) -> Image.Image:
    """`image` (RGB) on the bigger canvas; the old pixels exactly where they were, the new
    area pre-filled: `edge` (stretched border, blurred), `mirror` or `noise` (on the blur)."""
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
