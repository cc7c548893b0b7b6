"""Preview frames that travel from the engine to the canvas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RegionPreview:
    """An RGBA (H, W, 4) uint8 preview to draw over `box` (l, t, r, b) of the canvas image."""

    rgba: np.ndarray
    box: tuple[int, int, int, int]
