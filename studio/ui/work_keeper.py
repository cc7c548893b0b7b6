"""Work in progress survives a crash: autosave soon after each change, offer it back after."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel

from studio.core.autosave import Autosave, SessionMarker, Snapshot
from studio.core.records import ImageResult
from studio.ui.canvas import ImageCanvas
from studio.ui.edit_controller import EditController
from studio.ui.edit_panel import EditPanel
from studio.ui.engine_signals import EngineSignals
from studio.ui.gallery import GalleryStrip
from studio.ui.notice import NoticeBar
from studio.ui.prompt_panel import PanelValues, PromptPanel
from studio.ui.qimages import qimage_from_pil

log = logging.getLogger(__name__)
AUTOSAVE_INTERVAL_MS = 15_000
AUTOSAVE_DEBOUNCE_MS = 2_000


@dataclass(frozen=True)
class WorkParts:
    """What the autosave watches and restores, passed in explicitly."""

    canvas: ImageCanvas
    gallery: GalleryStrip
    notice: NoticeBar
    prompt_panel: PromptPanel
    edit_panel: EditPanel
    edit: EditController
    status: QLabel
    signals: EngineSignals


class WorkKeeper(QObject):
    """Snapshots the canvas work ~2 s after every change (and every 15 s); the session marker
    tells a crash from a clean exit, and after a crash the snapshot is offered back."""

    def __init__(self, parts: WorkParts, autosave: Autosave, marker: SessionMarker,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.parts, self.autosave, self.marker = parts, autosave, marker
        self.last_image: Image.Image | None = None
        self._saved_fingerprint: tuple[int, int, str] | None = None
        self._timer = QTimer(self, interval=AUTOSAVE_INTERVAL_MS)
        self._timer.timeout.connect(self.autosave_now)
        self._timer.start()
        self.soon = QTimer(self, singleShot=True, interval=AUTOSAVE_DEBOUNCE_MS)
        self.soon.timeout.connect(self.autosave_now)
        self._watch_changes()

    def _watch_changes(self) -> None:
        """Any change of prompt, settings or canvas (a result, an opened source, a stroke)."""
        p = self.parts
        p.signals.result.connect(self._on_result)
        p.gallery.result_selected.connect(self._on_gallery)
        for signal in (p.canvas.mask_changed, p.canvas.image_changed, p.prompt_panel.changed,
                       p.edit_panel.prompt.textChanged, p.edit_panel.negative.textChanged):
            signal.connect(self.soon.start)

    def _on_result(self, result: ImageResult) -> None:
        self.last_image = result.image
        self.soon.start()

    def _on_gallery(self, index: int) -> None:
        self.last_image = getattr(self.parts.gallery.results[index], "image", self.last_image)

    def begin_session(self) -> bool:
        """Mark this session running; True (and the offer shown) if the last one crashed."""
        try:
            crashed = self.marker.begin()
        except OSError as exc:
            log.warning("no session marker: %s", exc)
            return False
        snapshot = self.autosave.load() if crashed else None
        if snapshot is not None:
            stamp = time.strftime("%H:%M", time.localtime(snapshot.saved_at))
            self.parts.notice.show_message(
                f"Studio did not exit cleanly last time. Your work in progress (autosaved at "
                f"{stamp}) can be restored.", "warning",
                [("Restore", lambda: self.restore_snapshot(snapshot)),
                 ("Discard", self.autosave.clear)])
        return crashed

    def work_in_progress(self) -> tuple[Image.Image, Image.Image | None, dict] | None:
        """(image, mask or None, meta with the panel values) of what would be lost now."""
        source = self.parts.edit.source
        image = source if source is not None else self.last_image
        if image is None:
            return None
        mask_layer = self.parts.canvas.mask if source is not None else None
        mask = None
        if mask_layer is not None and not mask_layer.is_empty():
            mask = Image.fromarray(np.asarray(mask_layer.to_numpy(), dtype=np.uint8))
        edit = self.parts.edit_panel
        meta = {"panel": asdict(self.parts.prompt_panel.values()), "editing": source is not None,
                "edit_prompt": edit.prompt.toPlainText(),
                "edit_negative": edit.negative.toPlainText()}
        return image, mask, meta

    def autosave_now(self) -> bool:
        """Snapshot the work if the image, the mask or any panel value changed since the last
        snapshot; True if written."""
        work = self.work_in_progress()
        if work is None:
            return False
        image, mask, meta = work
        fingerprint = (id(image), hash(mask.tobytes()) if mask is not None else 0,
                       json.dumps(meta, sort_keys=True))
        if fingerprint == self._saved_fingerprint:
            return False
        try:
            self.autosave.save(image, mask, meta)
        except OSError as exc:
            log.warning("autosave failed: %s", exc)
            return False
        self._saved_fingerprint = fingerprint
        return True

    def restore_snapshot(self, snapshot: Snapshot) -> None:
        self._restore_panels(snapshot.meta)
        canvas = self.parts.canvas
        if snapshot.meta.get("editing"):
            self.parts.edit.set_source(snapshot.image, "Recovered image")
            if snapshot.mask is not None and canvas.mask is not None:
                canvas.mask.set_pixels(np.asarray(snapshot.mask.convert("L")))
                canvas.update()
                canvas.mask_changed.emit()
        else:
            canvas.set_image(qimage_from_pil(snapshot.image))
            self.last_image = snapshot.image
        self.parts.status.setText("Recovered the autosaved work")

    def _restore_panels(self, meta: dict) -> None:
        panel = meta.get("panel")
        if isinstance(panel, dict):
            try:
                self.parts.prompt_panel.apply_values(PanelValues(**panel))
            except TypeError:
                pass
        edit = self.parts.edit_panel
        for box, key in ((edit.prompt, "edit_prompt"), (edit.negative, "edit_negative")):
            if isinstance(meta.get(key), str):
                box.setPlainText(meta[key])

    def end_session(self) -> None:
        """Clean exit: a final autosave, then the session marker goes."""
        self._timer.stop()
        self.soon.stop()
        self.autosave_now()
        self.marker.end()
