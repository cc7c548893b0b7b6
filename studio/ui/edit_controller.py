"""Wires the Edit tab to the canvas, the mask layer and the engine (img2img / inpaint)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from PySide6.QtCore import QBuffer, QIODevice, QObject
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QTabWidget

from studio.core.inpaint import normalize_image
from studio.core.prompts import expand_prompt, load_expansions
from studio.core.records import ImageResult
from studio.core.requests import GenerateRequest, JobKind
from studio.ui.canvas import ImageCanvas
from studio.ui.edit_panel import EditPanel
from studio.ui.gallery import GalleryStrip
from studio.ui.job_runner import JobRunner
from studio.ui.mask_layer import MaskLayer
from studio.ui.model_picker import ModelPicker
from studio.ui.notice import NoticeBar
from studio.ui.outpaint_controller import OutpaintController
from studio.ui.prompt_panel import PromptPanel
from studio.ui.qimages import qimage_from_pil

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
_MAX_SIDE = 8192


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class EditController(QObject):
    """Owns the source image and mask; turns the Edit tab into img2img/inpaint requests."""

    def __init__(self, panel: EditPanel, canvas: ImageCanvas, notice: NoticeBar,
                 tabs: QTabWidget, gallery: GalleryStrip, prompt_panel: PromptPanel,
                 models: ModelPicker, runner: JobRunner) -> None:
        super().__init__(panel)
        self.panel, self.canvas, self.notice, self.tabs = panel, canvas, notice, tabs
        self.gallery, self.prompt_panel, self.models, self.runner = (gallery, prompt_panel,
                                                                     models, runner)
        self.source: Image.Image | None = None
        self.edit_jobs: set[int] = set()
        self._connect()

    def _connect(self) -> None:
        p, c = self.panel, self.canvas
        p.open_requested.connect(self.open_dialog)
        p.paste_requested.connect(self.paste)
        p.use_result_requested.connect(self.use_selected_result)
        p.run_requested.connect(self.run)
        p.brush_size.valueChanged.connect(lambda v: c.set_brush_radius(v / 2))
        p.hardness.valueChanged.connect(lambda v: setattr(c.brush, "hardness", v / 100))
        p.opacity.valueChanged.connect(self._set_opacity)
        p.eraser.toggled.connect(lambda on: setattr(c.brush, "erase", on))
        p.overlay_color.currentTextChanged.connect(c.set_mask_color)
        c.set_mask_color(p.overlay_color.currentText())
        p.modes.buttonToggled.connect(lambda *_: self._update_painting())
        c.brush_changed.connect(self._sync_brush_slider)
        c.mask_changed.connect(self._update_run_button)
        c.image_dropped.connect(self.open_file)
        for button, action in ((p.invert_button, "invert"), (p.clear_button, "clear"),
                               (p.fill_button, "fill"), (p.undo_button, "undo"),
                               (p.redo_button, "redo")):
            button.clicked.connect(lambda _=False, a=action: self.mask_action(a))
        self.tabs.currentChanged.connect(lambda _: self._on_tab())
        signals = self.runner.signals
        signals.result.connect(self._on_result)
        for signal in (signals.failed, signals.cancelled, signals.finished):
            signal.connect(lambda job, *_: self._on_job_end(job))
        c.set_brush_radius(p.brush_size.value() / 2)
        self.outpaint = OutpaintController(self, self, p.outpaint, p.source_label)
        self._update_run_button()

    # ----- source ---------------------------------------------------------------------------
    def set_source(self, image: Image.Image, label: str) -> None:
        """Make `image` the edit source; the mask starts empty at its size."""
        if max(image.size) > _MAX_SIDE:
            self.notice.show_message(
                f"{label} is {image.width}×{image.height}; images up to {_MAX_SIDE} px per side "
                "can be edited. Downscale it first.", "error")
            return
        self.source = normalize_image(image)
        self.canvas.mask = MaskLayer(self.source.width, self.source.height)
        self.panel.source_label.setText(f"{label} · {self.source.width}×{self.source.height}")
        self.tabs.setCurrentWidget(self.panel)
        self._show_source()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.panel, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str) -> None:
        try:
            with Image.open(path) as image:
                image.load()
                self.set_source(image.copy(), Path(path).name)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            self.notice.show_message(f"Could not open {Path(path).name}: {exc}", "error")

    def paste(self) -> None:
        qimage = QGuiApplication.clipboard().image()
        if qimage.isNull():
            self.notice.show_message("The clipboard holds no image.", "warning")
            return
        self.set_source(pil_from_qimage(qimage), "Pasted image")

    def use_selected_result(self) -> None:
        result = self.gallery.selected_result()
        if result is None:
            self.notice.show_message("Generate or select a gallery result first.",
                                            "warning")
            return
        self.set_source(result.image, "Gallery result")

    def _show_source(self) -> None:
        if self.source is not None:
            self.canvas.clear_region_preview()
            self.canvas.set_image(qimage_from_pil(self.source))
        self._update_painting()

    # ----- mask -----------------------------------------------------------------------------
    def mask_action(self, action: str) -> None:
        mask = self.canvas.mask
        if mask is None:
            return
        getattr(mask, action)()
        self.canvas.update()
        self._update_run_button()

    def _set_opacity(self, value: int) -> None:
        self.canvas.mask_opacity = value / 100
        self.canvas.update()

    def _sync_brush_slider(self) -> None:
        self.panel.brush_size.blockSignals(True)
        self.panel.brush_size.setValue(round(self.canvas.brush.radius * 2))
        self.panel.brush_size.blockSignals(False)
        self.panel.show_brush_size(self.panel.brush_size.value())

    def _on_tab(self) -> None:
        if self.tabs.currentWidget() is self.panel:
            self._show_source()
        else:
            self.canvas.painting = self.canvas.extend_handles = False
            self.canvas.update()

    def _update_painting(self) -> None:
        active = self.tabs.currentWidget() is self.panel
        self.canvas.painting = active and self.panel.inpainting and self.canvas.mask is not None
        self.canvas.extend_handles = active and self.source is not None
        self.canvas.update()
        self._update_run_button()

    def _update_run_button(self) -> None:
        """Inpaint needs a source and a painted mask; Transform needs a source."""
        mask = self.canvas.mask
        ready = self.source is not None and (
            not self.panel.inpainting or (mask is not None and not mask.is_empty()))
        self.panel.run_button.setEnabled(ready)
        self.panel.run_button.setToolTip("Run (Ctrl+Enter)" if ready else
                                         "Open a source image first" if self.source is None
                                         else "Paint the area to change first")

    # ----- jobs -----------------------------------------------------------------------------
    def snapshot(self) -> GenerateRequest | None:
        """The edit request from the panels, or None (with a notice) when inputs are missing."""
        entry = self.models.selected()
        if entry is None or self.source is None:
            self.notice.show_message(
                "Open a source image first." if entry else self.models.registry.describe_search(),
                "warning")
            return None
        base = self.prompt_panel.snapshot(str(entry.path), entry.name)
        p = self.panel
        kind = JobKind.INPAINT if p.inpainting else JobKind.IMG2IMG
        mask = None
        if kind is JobKind.INPAINT and self.canvas.mask is not None:
            mask = png_bytes(Image.fromarray(self.canvas.mask.to_numpy()))
        return replace(
            base, kind=kind,
            prompt=expand_prompt(p.prompt.toPlainText().strip(), load_expansions(entry.path)),
            negative_prompt=p.negative.toPlainText().strip(), strength=p.strength.value(),
            init_image=png_bytes(self.source), mask_image=mask,
            width=self.source.width, height=self.source.height,
            mask_blur=float(p.mask_blur.value()), only_masked=p.area.currentIndex() == 0,
            mask_padding=p.padding.value(), work_resolution=p.work_resolution.value(),
        )

    def run(self) -> int | None:
        request = self.snapshot()
        job_id = self.runner.submit(request) if request is not None else None
        if job_id is not None:
            self.edit_jobs.add(job_id)
        return job_id

    def _on_result(self, result: ImageResult) -> None:
        if result.job_id in self.edit_jobs:
            self.canvas.clear_region_preview()
            self.source = result.image
            if self.canvas.mask is not None:
                self.canvas.mask.clear()  # undoable: Undo brings the mask back
            self._update_painting()

    def _on_job_end(self, job_id: int) -> None:
        if job_id in self.edit_jobs:
            self.edit_jobs.discard(job_id)
            self.canvas.clear_region_preview()


def pil_from_qimage(qimage: QImage) -> Image.Image:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    qimage.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGBA")
