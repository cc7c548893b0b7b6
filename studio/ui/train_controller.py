"""Runs a Train-tab session on its own thread and brings the result into the model picker."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from studio.ui.qimages import qimage_from_pil
from studio.ui.train_panel import TrainPanel


class _SessionSignals(QObject):
    """Created on the GUI thread; the training thread emits, Qt queues to the GUI."""

    step = Signal(int, int, float)  # step, total, loss
    sample = Signal(int, object)  # step, PIL grid
    done = Signal(object)  # SessionResult
    failed = Signal(str)


def default_models_dir() -> Path:
    from studio.app import default_data_dir

    return default_data_dir() / "models"


def safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-.")
    return name or "my-model"


class TrainController(QObject):
    """Never blocks the GUI: the session runs on a daemon thread; signals report back."""

    def __init__(self, window, models_dir: Path | None = None) -> None:  # noqa: ANN001
        super().__init__(window)
        self.window = window
        self.models_dir = models_dir or default_models_dir()
        self.panel = TrainPanel()
        self.signals = _SessionSignals()
        self.session = None
        self.thread: threading.Thread | None = None
        self.losses: list[float] = []
        self.result = None
        window.tabs.addTab(self.panel, "Train")
        self.panel.browse_requested.connect(self._browse)
        self.panel.start_requested.connect(self.start)
        self.panel.pause_requested.connect(self.toggle_pause)
        self.panel.cancel_requested.connect(self.cancel)
        self.signals.step.connect(self._on_step)
        self.signals.sample.connect(self._on_sample)
        self.signals.done.connect(self._on_done)
        self.signals.failed.connect(self._on_failed)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.panel, "A folder of training images")
        if folder:
            self.panel.folder.setText(folder)

    def _vae(self) -> Path | None:
        entry = self.window.selected_model()
        vae = entry.path / "vae" if entry else None
        return vae if vae and (vae / "config.json").is_file() else None

    def start(self, **overrides: object) -> bool:
        """Start a run with the panel's settings (`overrides` go into the TrainConfig)."""
        from studio.training.session import TrainSession, session_config

        folder, vae = Path(self.panel.folder.text().strip()), self._vae()
        if not self.panel.folder.text().strip() or not folder.is_dir():
            self.panel.status.setText("Choose a folder of images first.")
            return False
        if vae is None:
            self.panel.status.setText("Select a latent (VAE) model in the picker: its VAE is "
                                      "reused.")
            return False
        name = safe_name(self.panel.name.text())
        config = session_config(folder, self.models_dir / ".runs" / name, vae,
                                self.panel.preset.currentText(), self.panel.steps.value(),
                                self.panel.size.value(), **overrides)
        self.session = TrainSession(config, self.models_dir / name)
        self.losses, self.result = [], None
        self.panel.set_running(True)
        self.panel.status.setText("Loading images and encoding them with the VAE…")
        self.thread = threading.Thread(target=self._run, name="studio-train", daemon=True)
        self.thread.start()
        return True

    def _run(self) -> None:
        session, signals = self.session, self.signals
        try:
            result = session.run(lambda s, t, loss: signals.step.emit(s, t, loss),
                                 lambda s, image: signals.sample.emit(s, image))
        except Exception as exc:  # reported in the panel; the app keeps running
            signals.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        signals.done.emit(result)

    def toggle_pause(self) -> None:
        if self.session is None:
            return
        if self.session.paused:
            self.session.resume()
            self.panel.status.setText("Resumed.")
        else:
            self.session.pause()
            self.panel.status.setText("Paused after the current step.")
        self.panel.set_running(True, self.session.paused)

    def cancel(self) -> None:
        if self.session is not None:
            self.session.cancel()
            self.panel.status.setText("Cancelling after the current step…")

    def _on_step(self, step: int, total: int, loss: float) -> None:
        self.losses.append(loss)
        self.panel.show_losses(self.losses)
        paused = " (paused)" if self.session and self.session.paused else ""
        self.panel.status.setText(f"Step {step}/{total} · loss {loss:.4f}{paused}")

    def _on_sample(self, step: int, image: Image.Image) -> None:
        from PySide6.QtGui import QPixmap

        self.panel.show_samples(QPixmap.fromImage(qimage_from_pil(image)))

    def _on_done(self, result) -> None:  # noqa: ANN001 - SessionResult
        self.result = result
        self.panel.set_running(False)
        if result.model_dir is None:
            self.panel.status.setText(f"Cancelled at step {result.steps}; nothing exported.")
            return
        self._add_model(result.model_dir)
        self.panel.status.setText(f"Done: {result.steps} steps · exported to "
                                  f"{result.model_dir} · selected in the model picker.")

    def _add_model(self, folder: Path) -> None:
        registry = self.window.registry
        if self.models_dir.resolve() not in {p.resolve() for p in registry.extra_dirs}:
            registry.extra_dirs.append(self.models_dir)
        self.window.refresh_models()
        index = self.window.model_picker.findText(folder.name)
        if index >= 0:
            self.window.model_picker.setCurrentIndex(index)

    def _on_failed(self, message: str) -> None:
        self.panel.set_running(False)
        self.panel.status.setText(f"Training failed: {message}")
