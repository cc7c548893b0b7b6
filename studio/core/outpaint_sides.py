"""Outpaint sides and their validation: plain data, no image libraries (requests import it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

# model: an inpainting model file (LaMa, MAT…) paints the new area first (engine, spandrel)
FILL_MODES: tuple[str, ...] = ("edge", "mirror", "noise", "model")
MAX_SIDE_EXTEND = 2048  # px added on one side at most


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


def describe(sides: Sides, fill: str, fill_model: str = "") -> str:
    """The infotext value: `left 64, right 0, top 0, bottom 0, fill edge` (for the model
    fill, the file's name follows: `fill model big-lama.safetensors`)."""
    if fill == "model" and fill_model:
        fill = f"model {PurePath(fill_model).name}"
    return ", ".join(f"{k} {v}" for k, v in sides.as_dict().items()) + f", fill {fill}"
