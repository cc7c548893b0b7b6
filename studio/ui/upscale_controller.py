"""Wires the Upscale tab into the main window: sources, jobs, progress and the split view."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QTabWidget

from studio.core.upscale import UpscaleRequest
from studio.ui.canvas import ImageCanvas
from studio.ui.gallery import GalleryStrip
from studio.ui.job_runner import JobRunner
from studio.ui.qimages import qimage_from_pil
from studio.ui.upscale_panel import UpscalePanel, describe_progress, pil_from_qimage, split_view


class UpscaleController(QObject):
    """Owns the panel's jobs; submits and cancels through the JobRunner."""

    def __init__(self, tabs: QTabWidget, canvas: ImageCanvas, gallery: GalleryStrip,
                 runner: JobRunner, model_dirs: list[Path]) -> None:
        super().__init__(tabs)
        self.canvas, self.gallery, self.runner = canvas, gallery, runner
        self.panel = UpscalePanel(model_dirs)
        self.jobs: dict[int, UpscaleRequest] = {}
        self.result_image: Image.Image | None = None
        self.result_request: UpscaleRequest | None = None
        self.result_infotext = ""
        self.saved_as = ""
        self._before: QImage | None = None
        self._after: QImage | None = None
        tabs.addTab(self.panel, "Upscale")
        self.panel.source_wanted.connect(self.take_source)
        self.panel.upscale_requested.connect(self.submit)
        self.panel.cancel_requested.connect(self.cancel)
        self.panel.compare_changed.connect(self.show_compare)
        signals = runner.signals
        signals.preview.connect(self._on_preview)
        signals.result.connect(self._on_result)
        signals.finished.connect(lambda job, _r: self._end(job, None))
        signals.failed.connect(self._end)
        signals.cancelled.connect(lambda job: self._end(job, "Cancelled — the source is "
                                                             "unchanged."))

    def take_source(self, where: str) -> None:
        """The canvas or gallery image becomes the source, with its generation parameters."""
        image: Image.Image | None = None
        infotext = ""
        if where == "canvas":
            shown = self.canvas.image
            if shown is not None and not shown.isNull():
                image, infotext = pil_from_qimage(shown), self.canvas.infotext
        else:
            gallery = self.gallery
            result = gallery.selected_result()
            if result is None and gallery.results:
                result = gallery.results[-1]
            image = getattr(result, "image", None)
            infotext = str(getattr(result, "infotext", "") or "")
        self.panel.set_source(image, where, infotext)

    def submit(self, request: UpscaleRequest) -> int | None:
        job = self.runner.submit(request)
        if job is None:
            return None
        self.jobs[job] = request
        self.panel.set_running(True)
        self.panel.status.setText(f"Queued: {describe_progress(request, 0)}")
        return job

    def _on_preview(self, job: int, step: int, total: int, _image: object) -> None:
        request = self.jobs.get(job)
        if request is None:
            return
        self.panel.status.setText(f"Upscaling… {describe_progress(request, step)}")

    def cancel(self) -> None:
        for job in list(self.jobs):
            self.runner.cancel(job)

    def _on_result(self, result) -> None:  # noqa: ANN001 - ImageResult
        request = self.jobs.get(result.job_id)
        if request is None:
            return
        self.result_image, self.result_request = result.image, request
        self.result_infotext = result.infotext
        self.saved_as = result.path.name if result.path else "not saved"
        self._before = self._after = None
        self.panel.compare.setEnabled(True)
        if self.panel.compare.isChecked():
            self.show_compare()  # the window's slot, connected first, has shown the result

    def _end(self, job: int, message: str | None) -> None:
        request = self.jobs.pop(job, None)
        if request is None:
            return
        if message is None and self.result_image is not None:
            size = f"{self.result_image.width}×{self.result_image.height}"
            message = f"Done: {size} · {self.saved_as}"
        self.panel.status.setText(message or "Done.")
        self.panel.set_running(bool(self.jobs))

    def show_compare(self) -> None:
        """Split view (Lanczos before | result after) on the canvas, or just the result."""
        if self.result_image is None or self.result_request is None:
            return
        if self._after is None:
            self._after = qimage_from_pil(self.result_image)
        if not self.panel.compare.isChecked():
            self.canvas.set_image(self._after, infotext=self.result_infotext)
            return
        if self._before is None:
            from studio.core.upscale import decode_source

            rgb, _alpha = decode_source(self.result_request.image)
            size = self.result_image.size
            self._before = qimage_from_pil(rgb.resize(size, Image.Resampling.LANCZOS))
        fraction = self.panel.split.value() / 100.0
        self.canvas.set_image(split_view(self._before, self._after, fraction))
