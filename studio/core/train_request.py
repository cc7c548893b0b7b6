"""Training as a job kind: the frozen request the Train tab and the CLI hand to a backend."""

from __future__ import annotations

from dataclasses import dataclass

# model size presets: the UNet / text-encoder shape (everything else as in TrainConfig)
TRAIN_PRESETS: dict[str, dict] = {
    "Tiny (minutes on a CPU)": dict(channels=(16, 32), attention=(False, True), head_dim=8,
                                    text_hidden=32, text_layers=1, vocab_size=1024,
                                    batch_size=8, lr=2e-3, warmup=20),
    "Small": dict(channels=(32, 64), attention=(False, True), head_dim=16, text_hidden=64,
                  text_layers=2, vocab_size=2048, batch_size=16, lr=1e-3, warmup=100),
    "Emoji-SD size": dict(channels=(64, 128, 192), attention=(True, True, False), head_dim=32,
                          text_hidden=128, text_layers=3, vocab_size=4096, batch_size=32,
                          lr=5e-4, warmup=200),
}


@dataclass(frozen=True)
class TrainRequest:
    """Train a latent diffusion model on a folder of images and export it to `models_dir`.

    `overrides` are extra TrainConfig fields as (name, value) pairs (tests make runs tiny).
    """

    data_dir: str
    vae_path: str
    models_dir: str
    name: str = "my-model"
    preset: str = "Tiny (minutes on a CPU)"
    steps: int = 500
    size: int = 64
    overrides: tuple[tuple[str, object], ...] = ()

    def validate(self) -> None:
        """Raise ValueError with a user-facing message when the run cannot start."""
        if not self.data_dir:
            raise ValueError("choose a folder of training images first")
        if self.preset not in TRAIN_PRESETS:
            raise ValueError(f"unknown model size {self.preset!r}")
        if not 1 <= self.steps <= 1_000_000:
            raise ValueError(f"steps must be between 1 and 1000000 (got {self.steps})")
        if not 16 <= self.size <= 512 or self.size % 8:
            raise ValueError(f"size must be a multiple of 8 between 16 and 512 (got {self.size})")
        if not self.vae_path:
            raise ValueError("select a latent (VAE) model in the picker: its VAE is reused")


@dataclass(frozen=True)
class LoraTrainRequest:
    """Train a LoRA for the model at `model_path` on a folder of images.

    The file is written to `loras_dir/NAME.safetensors`, where `<lora:NAME:1>` finds it.
    `overrides` are extra LoraTrainConfig fields as (name, value) pairs (tests make runs tiny).
    """

    data_dir: str
    model_path: str
    loras_dir: str
    name: str = "my-lora"
    steps: int = 400
    rank: int = 4
    caption: str = ""  # for images without a .txt sidecar
    text_encoder: bool = False  # adapters on the text encoder too
    overrides: tuple[tuple[str, object], ...] = ()

    def validate(self) -> None:
        """Raise ValueError with a user-facing message when the run cannot start."""
        if not self.data_dir:
            raise ValueError("choose a folder of training images first")
        if not self.model_path:
            raise ValueError("select the model to train a LoRA for in the model picker")
        if not 1 <= self.steps <= 1_000_000:
            raise ValueError(f"steps must be between 1 and 1000000 (got {self.steps})")
        if not 1 <= self.rank <= 128:
            raise ValueError(f"the LoRA rank must be between 1 and 128 (got {self.rank})")
        if not self.name or self.name.strip(".") != self.name or any(
                c in self.name for c in "/\\\0"):
            raise ValueError(f"{self.name!r} cannot be a LoRA file name")


@dataclass(frozen=True)
class TrainStep:
    """A training job's per-step payload."""

    step: int
    total: int
    loss: float


@dataclass(frozen=True)
class TrainSample:
    """A sample grid from the weights being trained (PIL image)."""

    step: int
    image: object


@dataclass(frozen=True)
class TrainDone:
    """A training job's outcome: `model_dir` is None when it was cancelled."""

    steps: int
    model_dir: str | None


@dataclass(frozen=True)
class LoraDone:
    """A LoRA training job's outcome: `path` (the .safetensors) is None when cancelled."""

    steps: int
    path: str | None
