"""Denoised (x0) previews: capture the scheduler's x0 and project latents to RGB cheaply."""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.core.safe_read import read_json_object

log = logging.getLogger(__name__)
_MAX_CHANNELS = 64

SD1_FACTORS = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)
SDXL_FACTORS = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)
SDXL_BIAS = (0.1084, -0.0175, -0.0011)
PREVIEW_FILE = "latent_rgb.json"


@dataclass(frozen=True)
class LinearPreview:
    """Latent -> RGB by a fixed (channels x 3) matrix plus bias; result in [-1, 1]."""

    factors: tuple[tuple[float, float, float], ...]
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def to_rgb(self, latents: torch.Tensor) -> np.ndarray:
        """First latent of a (B, C, h, w) batch as an (h, w, 3) uint8 image."""
        sample = latents[0].detach().to("cpu", torch.float32).numpy()
        matrix = np.asarray(self.factors, np.float32)
        if sample.shape[0] != matrix.shape[0]:
            return _grey_from_channels(torch.from_numpy(sample))
        rgb = np.tensordot(sample, matrix, axes=([0], [0])) + np.asarray(self.bias, np.float32)
        return ((np.clip(rgb, -1, 1) + 1) * 127.5 + 0.5).astype(np.uint8)


def _grey_from_channels(sample: torch.Tensor) -> np.ndarray:
    channels = sample[:3] if sample.shape[0] >= 3 else sample[:1].repeat(3, 1, 1)
    rgb = channels.permute(1, 2, 0) / 2
    return ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def preview_for_model(model_path: Path, pipeline_class: str) -> LinearPreview:
    """The model's own fitted projection if it ships one, else the SD/SDXL factors.

    A malformed `latent_rgb.json` (or one that is not a small regular file) is logged and
    the default projection is used: a preview must never stop a generation.
    """
    stored = Path(model_path) / PREVIEW_FILE
    try:
        return _stored_preview(stored)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring %s (using the default preview): %s", stored, exc)
    if "XL" in pipeline_class:
        return LinearPreview(SDXL_FACTORS, SDXL_BIAS)
    return LinearPreview(SD1_FACTORS)


def _stored_preview(path: Path) -> LinearPreview:
    """A validated projection: 1..64 rows of 3 finite numbers, a bias of 3 finite numbers."""
    data = read_json_object(path, max_bytes=64 * 1024)
    rows, bias = data["factors"], data.get("bias", [0.0, 0.0, 0.0])
    if not isinstance(rows, list) or not 0 < len(rows) <= _MAX_CHANNELS:
        raise ValueError("`factors` must be a list of 1 to 64 rows")
    factors = tuple(_triple(row, "factors row") for row in rows)
    return LinearPreview(factors, _triple(bias, "bias"))


def _triple(values: object, what: str) -> tuple[float, float, float]:
    if not isinstance(values, list) or len(values) != 3:
        raise ValueError(f"{what} must be a list of 3 numbers")
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != 3 or not all(math.isfinite(float(v)) for v in numbers):
        raise ValueError(f"{what} must hold 3 finite numbers")
    return float(numbers[0]), float(numbers[1]), float(numbers[2])


class X0Tap:
    """Wraps a scheduler's `step` to keep the predicted clean latents (x0) of the last step.

    Uses the step output's `pred_original_sample` (DDIM, DDPM, Euler, Euler a, LMS) or the
    multistep solvers' stored model output (DPM-Solver++, UniPC predict x0).
    """

    def __init__(self, scheduler) -> None:  # noqa: ANN001 - any diffusers scheduler
        self.scheduler = scheduler
        self.x0: torch.Tensor | None = None
        self.steps_taken = 0
        original = scheduler.step

        @functools.wraps(original)
        def step(*args, return_dict: bool = True, **kwargs):  # noqa: ANN202
            output = original(*args, return_dict=True, **kwargs)
            self.x0 = self._extract(output)
            self.steps_taken += 1
            return output if return_dict else output.to_tuple()

        scheduler.step = step

    def _extract(self, output) -> torch.Tensor | None:  # noqa: ANN001
        x0 = getattr(output, "pred_original_sample", None)
        if x0 is None:
            x0 = getattr(output, "denoised", None)
        if x0 is None:
            stored = getattr(self.scheduler, "model_outputs", None)
            if stored and stored[-1] is not None:
                x0 = stored[-1]
        return x0.detach() if x0 is not None else None
