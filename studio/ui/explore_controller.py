"""Wires the Explore tab into the main window: forward process, recorded steps, training step."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QTabWidget

from studio.core.explore_requests import (
    NoiseStepRequest,
    NoiseStepResult,
    RecordStepsRequest,
    StepFrame,
    StepsRecorded,
)
from studio.core.models import native_resolution
from studio.core.noise_schedule import NoiseSchedule, forward_image
from studio.core.step_strip import export_steps
from studio.ui.canvas import ImageCanvas
from studio.ui.explore_panel import ExplorePanel
from studio.ui.job_runner import JobRunner
from studio.ui.model_picker import ModelPicker
from studio.ui.prompt_panel import PromptPanel

SOURCE_SIDE = 256  # the forward view works on at most 256 px (numpy on the GUI thread)


class ExploreController(QObject):
    """Owns the panel's state and jobs; submits through the JobRunner."""

    def __init__(self, tabs: QTabWidget, canvas: ImageCanvas, prompt_panel: PromptPanel,
                 models: ModelPicker, runner: JobRunner) -> None:
        super().__init__(tabs)
        self.tabs, self.canvas, self.prompt_panel = tabs, canvas, prompt_panel
        self.models, self.runner = models, runner
        self.panel = ExplorePanel()
        self.schedule = NoiseSchedule.from_config({})
        self.source: np.ndarray | None = None
        self.frames: tuple[StepFrame, ...] = ()
        self.noise_result: NoiseStepResult | None = None
        self.jobs: dict[int, object] = {}
        self.latent_jobs: set[int] = set()
        tabs.addTab(self.panel, "Explore")
        self.panel.source_wanted.connect(self.take_canvas_image)
        self.panel.forward_changed.connect(self.update_forward)
        self.panel.record_requested.connect(self.record)
        self.panel.frame_changed.connect(self.show_frame)
        self.panel.export_requested.connect(self._ask_export)
        self.panel.noise_step_requested.connect(self.noise_step)
        self.panel.latent_forward_requested.connect(self.latent_forward)
        models.model_changed.connect(lambda _entry: self.load_schedule())
        tabs.currentChanged.connect(self._on_tab)
        signals = runner.signals
        signals.data.connect(self._on_data)
        signals.failed.connect(lambda job, message: self._end(job, f"Failed: {message}"))
        signals.cancelled.connect(lambda job: self._end(job, "Cancelled."))
        signals.finished.connect(lambda job, _results: self._end(job, None))
        self.load_schedule()

    # ----- forward --------------------------------------------------------------------------
    def load_schedule(self) -> None:
        entry = self.models.selected()
        self.schedule = NoiseSchedule.from_model(entry.path if entry else None)
        self.panel.t_slider.setMaximum(self.schedule.steps - 1)
        self.panel.show_schedule(self.schedule)
        self.update_forward()

    def _on_tab(self, index: int) -> None:
        if self.tabs.widget(index) is not self.panel:
            return
        self.load_schedule()
        if self.source is None:
            self.take_canvas_image()

    def take_canvas_image(self) -> None:
        from studio.ui.upscale_panel import pil_from_qimage

        shown = self.canvas.image
        if shown is None or shown.isNull():
            self.panel.source_label.setText("The canvas is empty: generate or open an image.")
            return
        self.set_source(pil_from_qimage(shown).convert("RGB"))

    def set_source(self, image: Image.Image) -> None:
        self.panel.source_label.setText(f"Source: the canvas image ({image.width}×"
                                        f"{image.height}).")
        image = image.copy()
        image.thumbnail((SOURCE_SIDE, SOURCE_SIDE), Image.Resampling.LANCZOS)
        self.source = np.asarray(image.convert("RGB"))
        self.update_forward()

    def update_forward(self) -> None:
        t = self.panel.t_slider.value()
        noisy = None
        if self.source is not None:
            noisy = forward_image(self.source, self.schedule, t, self.panel.noise_seed.value())
        self.panel.show_forward(self.schedule, self.source, noisy)

    # ----- reverse --------------------------------------------------------------------------
    def record(self) -> int | None:
        entry = self.models.selected()
        if entry is None:
            self.panel.step_label.setText("No model selected.")
            return None
        request = replace(self.prompt_panel.snapshot(str(entry.path), entry.name), batch_count=1)
        try:
            request.validate()
        except ValueError as exc:
            self.panel.step_label.setText(str(exc))
            return None
        return self._submit(RecordStepsRequest(request), "Recording…")

    def _submit(self, request: RecordStepsRequest | NoiseStepRequest, text: str) -> int | None:
        job = self.runner.submit(request)
        if job is None:
            return None
        self.jobs[job] = request
        label = (self.panel.step_label if isinstance(request, RecordStepsRequest)
                 else self.panel.train_label)
        label.setText(text)
        return job

    def show_frame(self, index: int) -> None:
        if 0 <= index < len(self.frames):
            self.panel.show_frame(self.frames[index], len(self.frames))

    def _ask_export(self, kind: str) -> None:
        filters = "PNG strip (*.png)" if kind == "png" else "Animation (*.gif *.webp)"
        name, _ = QFileDialog.getSaveFileName(self.panel, "Export steps", f"steps.{kind}",
                                              filters)
        if name:
            self.export_to(Path(name))

    def export_to(self, path: Path) -> Path | None:
        try:
            written = export_steps(self.frames, path)
        except (OSError, ValueError) as exc:
            self.panel.step_label.setText(f"Export failed: {exc}")
            return None
        self.panel.step_label.setText(f"Exported {written.name}")
        return written

    # ----- one training step ----------------------------------------------------------------
    def noise_step(self) -> int | None:
        """One visible training step at the Training box's t."""
        request = self._noise_request(self.panel.train_t.value())
        return None if request is None else self._submit(request, "Predicting the noise…")

    def latent_forward(self) -> int | None:
        """x_t at the forward slider's t in the model's latent space, decoded by its VAE."""
        request = self._noise_request(self.panel.t_slider.value())
        if request is None:
            return None
        job = self.runner.submit(request)
        if job is None:
            return None
        self.jobs[job] = request
        self.latent_jobs.add(job)
        self.panel.forward_latent.caption.setText("x_t (latent): working…")
        return job

    def _noise_request(self, timestep: int) -> NoiseStepRequest | None:
        entry = self.models.selected()
        if entry is None or self.source is None:
            self.take_canvas_image()
        if entry is None or self.source is None:
            self.panel.train_label.setText("Needs a model and an image on the canvas.")
            return None
        buffer = io.BytesIO()
        Image.fromarray(self.source).save(buffer, "PNG")
        size = native_resolution(entry.path) or 512
        return NoiseStepRequest(str(entry.path), buffer.getvalue(), timestep,
                                self.panel.noise_seed.value(), size=size)

    # ----- engine events ----------------------------------------------------------------------
    def _on_data(self, job: int, payload: object) -> None:
        if job not in self.jobs:
            return
        if isinstance(payload, StepsRecorded):
            self.frames = payload.frames
            self.panel.show_frames(len(self.frames))
            self.show_frame(len(self.frames) - 1)
        elif isinstance(payload, NoiseStepResult) and job in self.latent_jobs:
            self.panel.forward_latent.set_array(payload.noisy)
            self.panel.forward_latent.caption.setText(f"x_t (latent, t={payload.timestep})")
        elif isinstance(payload, NoiseStepResult):
            self.noise_result = payload
            self.panel.show_noise_step(payload)

    def _end(self, job: int, message: str | None) -> None:
        request = self.jobs.pop(job, None)
        if job in self.latent_jobs:
            self.latent_jobs.discard(job)
            if message is not None:
                self.panel.forward_latent.caption.setText(f"x_t (latent): {message}")
            return
        if request is None or message is None:
            return
        label = (self.panel.step_label if isinstance(request, RecordStepsRequest)
                 else self.panel.train_label)
        label.setText(message)
