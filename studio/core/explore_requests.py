"""Explorer jobs as plain data: record a generation's steps, and one visible training step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from studio.core.requests import GenerateRequest


@dataclass(frozen=True)
class RecordStepsRequest:
    """Run `generate` (txt2img) and record x_t, ε̂ and x̂0 at every step."""

    generate: GenerateRequest

    def validate(self) -> None:
        self.generate.validate()
        if self.generate.batch_count != 1:
            raise ValueError("recording runs one image at a time")

    @property
    def batch_count(self) -> int:
        return 1

    @property
    def width(self) -> int:
        return self.generate.width

    @property
    def height(self) -> int:
        return self.generate.height


@dataclass(frozen=True)
class NoiseStepRequest:
    """Noise an image's latent to timestep t and let the model predict the noise."""

    model_path: str
    image: bytes = field(repr=False)  # PNG bytes
    timestep: int = 500
    seed: int = 0
    prompt: str = ""
    size: int = 64  # the image is resized to size x size (a multiple of 8)

    def validate(self) -> None:
        if not 0 <= self.timestep <= 999:
            raise ValueError(f"timestep must be between 0 and 999 (got {self.timestep})")
        if self.size < 8 or self.size % 8 or self.size > 1024:
            raise ValueError(f"size must be a multiple of 8 between 8 and 1024 (got {self.size})")
        if not self.image:
            raise ValueError("put an image on the canvas first")


@dataclass(frozen=True)
class StepFrame:
    """One recorded denoising step as cheap linear-RGB projections (H, W, 3 uint8)."""

    index: int
    timestep: int
    xt: np.ndarray = field(repr=False)
    eps: np.ndarray = field(repr=False)
    x0: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class StepsRecorded:
    """The payload of a finished RecordStepsRequest."""

    frames: tuple[StepFrame, ...]


@dataclass(frozen=True)
class NoiseStepResult:
    """What one training step sees: x_t (decoded), true ε, predicted ε̂, their MSE, x̂0."""

    timestep: int
    noisy: np.ndarray = field(repr=False)  # VAE-decoded x_t, uint8
    noise: np.ndarray = field(repr=False)  # projection of ε
    predicted: np.ndarray = field(repr=False)  # projection of ε̂
    x0: np.ndarray = field(repr=False)  # VAE-decoded x̂0
    mse: float = 0.0
