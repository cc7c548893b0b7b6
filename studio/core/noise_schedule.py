"""The DDPM noise schedule in numpy: betas, ᾱ_t, log SNR and the closed-form forward process.

q(x_t | x0) = N(√ᾱ_t · x0, (1 − ᾱ_t) I), so x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε for one fixed ε.
Reads a diffusers ``scheduler_config.json``; no torch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core.safe_read import read_json_object

log = logging.getLogger(__name__)
MAX_TIMESTEPS = 100_000

DEFAULT_CONFIG: dict = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}


def _cosine_betas(count: int, max_beta: float = 0.999) -> np.ndarray:
    def abar(x: np.ndarray) -> np.ndarray:
        return np.cos((x + 0.008) / 1.008 * np.pi / 2) ** 2

    steps = np.arange(count, dtype=np.float64)
    return np.minimum(1 - abar((steps + 1) / count) / abar(steps / count), max_beta)


def betas_from_config(config: dict) -> np.ndarray:
    """The betas a diffusers scheduler derives from its config (float64, length T)."""
    merged = {**DEFAULT_CONFIG, **{k: v for k, v in config.items() if v is not None}}
    count = int(merged["num_train_timesteps"])
    if not 0 < count <= MAX_TIMESTEPS:
        raise ValueError(f"num_train_timesteps {count} is not in 1..{MAX_TIMESTEPS}")
    if merged.get("trained_betas"):
        betas = np.asarray(merged["trained_betas"], dtype=np.float64)
        if betas.ndim != 1 or not 0 < len(betas) <= MAX_TIMESTEPS:
            raise ValueError("trained_betas must be a list of 1 to 100000 numbers")
        return betas
    start, end = float(merged["beta_start"]), float(merged["beta_end"])
    kind = merged["beta_schedule"]
    if kind == "linear":
        return np.linspace(start, end, count, dtype=np.float64)
    if kind == "scaled_linear":
        return np.linspace(start**0.5, end**0.5, count, dtype=np.float64) ** 2
    if kind == "squaredcos_cap_v2":
        return _cosine_betas(count)
    raise ValueError(f"unsupported beta schedule {kind!r}")


@dataclass(frozen=True)
class NoiseSchedule:
    """ᾱ_t for t = 0 … T−1 and the forward process built on it."""

    alphas_cumprod: np.ndarray

    @classmethod
    def from_config(cls, config: dict) -> NoiseSchedule:
        betas = betas_from_config(config)
        return cls(np.cumprod(1.0 - betas))

    @classmethod
    def from_model(cls, model_dir: Path | None) -> NoiseSchedule:
        """The schedule of a diffusers folder (``scheduler/scheduler_config.json``).

        A missing file gives the SD default; a malformed one is logged and gives it too.
        """
        if not model_dir:
            return cls.from_config({})
        path = Path(model_dir) / "scheduler" / "scheduler_config.json"
        try:
            return cls.from_config(read_json_object(path))
        except FileNotFoundError:
            return cls.from_config({})
        except (OSError, ValueError, TypeError, KeyError, OverflowError) as exc:
            log.warning("ignoring %s (using the default schedule): %s", path, exc)
            return cls.from_config({})

    @property
    def steps(self) -> int:
        return len(self.alphas_cumprod)

    def log_snr(self) -> np.ndarray:
        """log(ᾱ_t / (1 − ᾱ_t)) for every t."""
        abar = self.alphas_cumprod
        return np.log(abar) - np.log1p(-abar)

    def coefficients(self, t: int) -> tuple[float, float]:
        """(√ᾱ_t, √(1 − ᾱ_t))."""
        abar = float(self.alphas_cumprod[int(np.clip(t, 0, self.steps - 1))])
        return abar**0.5, (1.0 - abar) ** 0.5

    def noisy(self, x0: np.ndarray, t: int, noise: np.ndarray) -> np.ndarray:
        """x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε (same shape as x0, float64)."""
        signal, sigma = self.coefficients(t)
        return signal * np.asarray(x0, dtype=np.float64) + sigma * noise


def fixed_noise(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Standard normal noise that depends only on (shape, seed)."""
    return np.random.default_rng(seed).standard_normal(shape)


def to_unit(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → float64 in [−1, 1]."""
    return np.asarray(image, dtype=np.float64)[..., :3] / 127.5 - 1.0


def from_unit(array: np.ndarray) -> np.ndarray:
    """Float in [−1, 1] → uint8 (clipped)."""
    return ((np.clip(array, -1.0, 1.0) + 1.0) * 127.5).round().astype(np.uint8)


def forward_image(image: np.ndarray, schedule: NoiseSchedule, t: int, seed: int = 0
                  ) -> np.ndarray:
    """The forward-process sample x_t of an (H, W, 3) uint8 image as uint8."""
    x0 = to_unit(image)
    return from_unit(schedule.noisy(x0, t, fixed_noise(x0.shape, seed)))
