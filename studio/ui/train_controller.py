"""The Train tab: a training job on the engine, its loss curve and samples, then the new model."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFileDialog, QTabWidget

from studio.core.lora import user_loras_dir
from studio.core.paths import default_data_dir
from studio.core.train_request import (
    LoraDone,
    LoraTrainRequest,
    TrainDone,
    TrainRequest,
    TrainSample,
    TrainStep,
)
from studio.ui.job_runner import JobRunner
from studio.ui.model_picker import ModelPicker
from studio.ui.qimages import qimage_from_pil
from studio.ui.train_panel import TrainPanel


def default_models_dir() -> Path:
    return default_data_dir() / "models"


def safe_name(text: str, default: str = "my-model") -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-.")
    return name or default


def free_name(name: str, taken: Callable[[str], bool]) -> str:
    """`name`, or `name-2`, `name-3`… the first that is not `taken`: a new run never
    replaces an earlier model or LoRA."""
    candidate, number = name, 1
    while taken(candidate):
        number += 1
        candidate = f"{name}-{number}"
    return candidate


class TrainController(QObject):
    """Submits a TrainRequest; the engine runs it like any job and reports each step."""

    def __init__(self, tabs: QTabWidget, models: ModelPicker, runner: JobRunner,
                 models_dir: Path | None = None) -> None:
        super().__init__(tabs)
        self.models, self.runner = models, runner
        self.models_dir = models_dir or default_models_dir()
        self.loras_dir = user_loras_dir()
        self.panel = TrainPanel()
        self.job: int | None = None
        self.paused = False
        self.losses: list[float] = []
        self.result: TrainDone | LoraDone | None = None
        tabs.addTab(self.panel, "Train")
        self.panel.browse_requested.connect(self._browse)
        self.panel.start_requested.connect(self.start)
        self.panel.pause_requested.connect(self.toggle_pause)
        self.panel.cancel_requested.connect(self.cancel)
        self.panel.folder.textChanged.connect(lambda _text: self._folder_changed())
        signals = runner.signals
        signals.data.connect(self._on_data)
        signals.failed.connect(self._on_failed)
        signals.cancelled.connect(self._on_cancelled)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.panel, "A folder of training images")
        if folder:
            self.panel.folder.setText(folder)

    def _folder_changed(self) -> None:
        if self.job is None and self.panel.status.text().startswith("Choose a folder"):
            self.panel.status.setText("Ready to train on this folder.")

    def _vae(self) -> Path | None:
        entry = self.models.selected()
        vae = entry.path / "vae" if entry else None
        return vae if vae and (vae / "config.json").is_file() else None

    def start(self, **overrides: object) -> bool:
        """Queue a training job with the panel's settings (`overrides` go into the run's
        config: TrainConfig, or LoraTrainConfig for a LoRA)."""
        folder_text = self.panel.folder.text().strip()
        if not folder_text or not Path(folder_text).is_dir():
            self.panel.status.setText("Choose a folder of images first.")
            return False
        request = (self._lora_request(folder_text, overrides) if self.panel.lora
                   else self._model_request(folder_text, overrides))
        if request is None:
            return False
        self.job = self.runner.submit(request)
        if self.job is None:
            return False
        self.losses, self.result, self.paused = [], None, False
        self.panel.set_running(True)
        wanted = self._wanted_name()
        renamed = f" as {request.name} ({wanted} exists)" if request.name != wanted else ""
        self.panel.status.setText(f"Queued{renamed}: loads the images and encodes them with "
                                  "the VAE…")
        return True

    def _wanted_name(self) -> str:
        return safe_name(self.panel.name.text(), "my-lora" if self.panel.lora else "my-model")

    def _model_request(self, folder: str, overrides: dict) -> TrainRequest | None:
        vae = self._vae()
        if vae is None:
            self.panel.status.setText("Select a latent (VAE) model in the picker: its VAE is "
                                      "reused.")
            return None
        name = free_name(self._wanted_name(), lambda n: (self.models_dir / n).exists())
        return TrainRequest(folder, str(vae), str(self.models_dir), name,
                            self.panel.preset.currentText(),
                            self.panel.steps.value(), self.panel.size.value(),
                            tuple(overrides.items()))

    def _lora_request(self, folder: str, overrides: dict) -> LoraTrainRequest | None:
        entry = self.models.selected()
        if entry is None or not (entry.path / "unet" / "config.json").is_file():
            self.panel.status.setText("Select the model to adapt in the picker (a diffusers "
                                      "model folder).")
            return None
        name = free_name(self._wanted_name(),
                         lambda n: (self.loras_dir / f"{n}.safetensors").exists())
        return LoraTrainRequest(folder, str(entry.path), str(self.loras_dir), name,
                                self.panel.steps.value(), self.panel.rank.value(),
                                self.panel.caption.text().strip(),
                                self.panel.text_encoder.isChecked(), tuple(overrides.items()))

    def toggle_pause(self) -> None:
        if self.job is None:
            return
        self.paused = not self.paused
        self.runner.set_paused(self.paused)
        self.panel.status.setText("Paused after the current step." if self.paused
                                  else "Resumed.")
        self.panel.set_running(True, self.paused)

    def cancel(self) -> None:
        if self.job is not None:
            self.runner.cancel(self.job)
            self.panel.status.setText("Cancelling after the current step…")

    def _on_data(self, job: int, payload: object) -> None:
        if job != self.job:
            return
        if isinstance(payload, TrainStep):
            self.losses.append(payload.loss)
            self.panel.show_losses(self.losses)
            paused = " (paused)" if self.paused else ""
            self.panel.status.setText(f"Step {payload.step}/{payload.total} · loss "
                                      f"{payload.loss:.4f}{paused}")
        elif isinstance(payload, TrainSample) and isinstance(payload.image, Image.Image):
            self.panel.show_samples(QPixmap.fromImage(qimage_from_pil(payload.image)))
        elif isinstance(payload, TrainDone):
            self._on_done(payload)
        elif isinstance(payload, LoraDone):
            self._on_lora_done(payload)

    def _on_done(self, result: TrainDone) -> None:
        self.result, self.job = result, None
        self.panel.set_running(False)
        if result.model_dir is None:
            self.panel.status.setText(f"Cancelled at step {result.steps}; nothing exported.")
            return
        folder = Path(result.model_dir)
        self._add_model(folder)
        self.panel.status.setText(f"Done: {result.steps} steps · exported to {folder} · now "
                                  "selected in the model picker (samples above show its "
                                  "quality).")

    def _on_lora_done(self, result: LoraDone) -> None:
        self.result, self.job = result, None
        self.panel.set_running(False)
        if result.path is None:
            self.panel.status.setText(f"Cancelled at step {result.steps}; no LoRA written.")
            return
        path = Path(result.path)
        self.panel.status.setText(f"Done: {result.steps} steps · saved {path} · add "
                                  f"<lora:{path.stem}:1> to a prompt (or pick it with the "
                                  "LoRA button).")

    def _add_model(self, folder: Path) -> None:
        registry = self.models.registry
        if self.models_dir.resolve() not in {p.resolve() for p in registry.extra_dirs}:
            registry.extra_dirs.append(self.models_dir)
        self.models.refresh()
        self.models.select_name(folder.name)

    def _on_failed(self, job: int, message: str) -> None:
        if job == self.job:
            self.job = None
            self.panel.set_running(False)
            self.panel.status.setText(f"Training failed: {message}")

    def _on_cancelled(self, job: int) -> None:
        if job == self.job:
            self.job = None
            self.panel.set_running(False)
            if self.result is None:
                self.panel.status.setText("Training cancelled; nothing exported.")
