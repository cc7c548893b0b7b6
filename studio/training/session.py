"""An in-app training run: the same `Trainer` as `studio train diffusion`, stepped in a loop
that can report, pause, resume and cancel, then exported as a diffusers folder."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from studio.core.train_request import TRAIN_PRESETS
from studio.training.common import JsonlLog, image_grid
from studio.training.trainer import TrainConfig, Trainer

PRESETS = TRAIN_PRESETS  # the names the Train tab offers live in core

StepFn = Callable[[int, int, float], None]  # step, total, loss
SampleFn = Callable[[int, Image.Image], None]


def session_config(data: Path, run: Path, vae: Path, preset: str, steps: int, size: int,
                   **overrides: object) -> TrainConfig:
    """A TrainConfig for a latent (VAE) run with a size preset; threads=0 leaves torch as is."""
    values: dict = dict(data=str(data), out=str(run), vae=str(vae), size=size,
                        max_steps=steps, threads=0, sample_every=0,
                        checkpoint_every=max(steps, 1), ema_decay=0.995)
    values.update(PRESETS[preset])
    values["warmup"] = min(values["warmup"], max(1, steps // 10))
    values.update(overrides)
    return TrainConfig(**values)


@dataclass(frozen=True)
class SessionResult:
    steps: int
    losses: list[float]
    model_dir: Path | None  # None when cancelled


class TrainSession:
    """Runs on any thread; `pause`, `resume` and `cancel` may be called from another one."""

    def __init__(self, config: TrainConfig, export_dir: Path, sample_every: int = 0,
                 sample_steps: int = 10) -> None:
        self.config = config
        self.export_dir = Path(export_dir)
        self.sample_every = sample_every or max(1, config.max_steps // 5)
        self.sample_steps = sample_steps
        self._running = threading.Event()
        self._running.set()
        self._cancel = threading.Event()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def run(self, on_step: StepFn | None = None, on_sample: SampleFn | None = None
            ) -> SessionResult:
        """Train `max_steps`, sampling every `sample_every`; export unless cancelled."""
        trainer = self.make_trainer()
        trainer.out.mkdir(parents=True, exist_ok=True)
        (trainer.out / "config.json").write_text(json.dumps(asdict(self.config), indent=2))
        log, losses = JsonlLog(trainer.out / "log.jsonl"), []
        total = self.config.max_steps
        while trainer.step < total:
            self._running.wait()
            if self._cancel.is_set():
                self.keep_checkpoint(trainer)
                return SessionResult(trainer.step, losses, None)
            losses.append(trainer.train_step())
            log.write(step=trainer.step, loss=round(losses[-1], 6),
                      lr=trainer.lr_at(trainer.step - 1))
            if on_step is not None:
                on_step(trainer.step, total, losses[-1])
            if on_sample is not None and (trainer.step % self.sample_every == 0
                                          or trainer.step == total):
                on_sample(trainer.step, self.sample(trainer))
        trainer.save()
        return SessionResult(trainer.step, losses, self.export(trainer))

    def make_trainer(self) -> Trainer:
        return Trainer(self.config)

    def keep_checkpoint(self, trainer: Trainer) -> None:
        """A cancelled run keeps a checkpoint in its run folder (nothing is exported)."""
        trainer.save()

    def sample(self, trainer: Trainer, count: int = 4) -> Image.Image:
        """A small grid from the EMA weights (fixed seed, so grids are comparable over time)."""
        captions = trainer.sample_captions(count)[:count] or [""]
        images = trainer.generate(captions, seed=0, steps=self.sample_steps)
        return image_grid(images, columns=len(images))

    def export(self, trainer: Trainer) -> Path:
        from studio.training.export import export_run

        return export_run(trainer, self.export_dir)
