"""Turns the Edit tab's Extend into an outpaint job: an inpaint of the extended canvas."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from PIL import Image
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from studio.core.outpaint import check_outpaint, extend_image, outpaint_mask
from studio.core.records import ImageResult
from studio.core.requests import GenerateRequest, JobKind
from studio.ui.canvas import ImageCanvas
from studio.ui.job_runner import JobRunner
from studio.ui.mask_layer import MaskLayer
from studio.ui.notice import NoticeBar
from studio.ui.outpaint_box import OutpaintBox
from studio.ui.qimages import qimage_from_pil


class EditHost(Protocol):
    """What the outpaint needs of the EditController (no import cycle)."""

    source: Image.Image | None
    canvas: ImageCanvas
    notice: NoticeBar
    runner: JobRunner
    edit_jobs: set[int]

    def snapshot(self) -> GenerateRequest | None: ...


class OutpaintController(QObject):
    """Shows the pre-filled canvas and its band mask, then submits the outpaint job."""

    def __init__(self, edit: EditHost, parent: QObject, box: OutpaintBox,
                 source_label: QLabel) -> None:
        super().__init__(parent)
        self.edit, self.box = edit, box
        self.jobs: set[int] = set()
        box.extend_requested.connect(self.extend)
        edit.canvas.extend_dragged.connect(self._on_handle_dragged)
        for side_box in box.side_boxes.values():
            side_box.valueChanged.connect(lambda _: self._show_pending())
        signals = edit.runner.signals
        for signal in (signals.failed, signals.cancelled):
            signal.connect(lambda job, *_: self._on_stopped(job))
        signals.result.connect(self._on_result)
        signals.finished.connect(lambda job, *_: self.jobs.discard(job))
        self.source_label = source_label

    def _show_pending(self) -> None:
        self.edit.canvas.set_pending_extend(self.box.sides().as_dict())

    def _on_handle_dragged(self, side: str, pixels: int) -> None:
        """A border handle was dragged: that side's field takes the size; Extend runs it."""
        self.box.side_boxes[side].setValue(pixels)
        sides = ", ".join(f"{name} {value} px" for name, value in
                          self.box.sides().as_dict().items() if value)
        self.edit.notice.show_message(f"Extend by {sides}: press Extend (drag another "
                                      "handle to add a side).", "info")

    def request(self) -> GenerateRequest | None:
        """The outpaint request, or None (with a notice) when it cannot run."""
        sides, fill = self.box.sides(), self.box.fill_mode()
        try:
            check_outpaint(sides, fill)
        except ValueError as exc:
            self.edit.notice.show_message(str(exc), "warning")
            return None
        base = self.edit.snapshot()
        if base is None:
            return None
        return replace(base, kind=JobKind.INPAINT, mask_image=None, outpaint_left=sides.left,
                       outpaint_right=sides.right, outpaint_top=sides.top,
                       outpaint_bottom=sides.bottom, outpaint_fill=fill,
                       outpaint_fill_model=self.box.fill_model_path())

    def extend(self) -> int | None:
        """Submit the outpaint; the canvas shows the extended, pre-filled image meanwhile."""
        request = self.request()
        source = self.edit.source
        if request is None or source is None:
            return None
        job_id = self.edit.runner.submit(request)
        if job_id is None:
            return None
        self.jobs.add(job_id)
        self.edit.edit_jobs.add(job_id)
        for side_box in self.box.side_boxes.values():
            side_box.setValue(0)  # used: the outline of a pending extension goes
        sides = request.outpaint_sides
        canvas = self.edit.canvas
        canvas.set_image(qimage_from_pil(extend_image(source, sides, request.outpaint_fill,
                                                      request.seed)))
        canvas.mask = MaskLayer(*sides.extended_size(source.size))
        canvas.mask.set_pixels(outpaint_mask(source.size, sides))
        canvas.update()
        return job_id

    def _on_result(self, result: ImageResult) -> None:
        """The source label says the new source's size (the result is the source now)."""
        if result.job_id in self.jobs and result.upscaled_by == 1:
            width, height = result.image.size
            self.source_label.setText(f"Outpaint result · {width}×{height}")

    def _on_stopped(self, job_id: int) -> None:
        """Failed or cancelled: back to the source as it was."""
        if job_id in self.jobs:
            self.jobs.discard(job_id)
            source = self.edit.source
            if source is not None:
                self.edit.canvas.mask = MaskLayer(source.width, source.height)
                self.edit.canvas.set_image(qimage_from_pil(source))
                self.edit.canvas.update()
