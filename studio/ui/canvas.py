"""The image canvas: zoom, pan, fit; shows the live denoised preview, then the result."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.ui import extend_handles
from studio.ui.mask_layer import MaskLayer
from studio.ui.mask_overlay import AUTO, OVERLAY_COLORS, contrast_color, render_overlay

_MIN_ZOOM, _MAX_ZOOM = 0.05, 32.0


@dataclass
class Brush:
    """Mask brush settings: radius in image pixels, hardness 0 (soft) … 1 (hard)."""

    radius: float = 24.0
    hardness: float = 0.7
    erase: bool = False


class ImageCanvas(QWidget):
    """Displays one image; wheel zooms at the cursor, middle/left drag pans, double-click fits.

    With `painting` on, left-drag paints the mask layer (middle-drag or Space+drag pans).
    """

    zoom_changed = Signal(float)
    mask_changed = Signal()
    brush_changed = Signal()
    image_dropped = Signal(str)  # a local image file dropped on the canvas
    image_changed = Signal()  # a new (non-preview) image is shown
    extend_dragged = Signal(str, int)  # an outpaint handle was dragged: side, image px

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self.setMouseTracking(True)
        self.image: QImage | None = None
        self.is_preview = False
        self.infotext = ""  # the shown image's generation parameters ("" when unknown)
        self._stable: tuple[QImage, str] | None = None  # the last non-preview image
        self.placeholder = "Type a prompt and press Ctrl+Enter to generate."
        self.zoom = 1.0
        self.offset = QPointF(0, 0)
        self._fit_mode = True
        self._drag_from: QPointF | None = None
        self.mask: MaskLayer | None = None
        self.painting = False
        self.brush = Brush()
        self.mask_color_choice = AUTO  # a name in OVERLAY_COLORS, or AUTO
        self._auto_color: tuple[tuple[int, int], QColor] | None = None
        self.mask_opacity = 0.5
        self.region_preview: tuple[QImage, QRect] | None = None
        self._extend_handles = False  # outpaint handles on the border (the Edit tab's)
        self._extend_drag: tuple[str, QPointF, int] | None = None  # side, start, pixels
        self.pending_extend: dict[str, int] = {}  # the Extend fields: outlined until used
        self._stroke_last: QPointF | None = None
        self._cursor_pos: QPointF | None = None
        self._space_down = False
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(640, 640)

    def set_image(self, image: QImage, preview: bool = False, infotext: str = "") -> None:
        """Show `image` (a preview is scaled smoothly to the target size by the caller);
        `infotext` is the generation parameters of a finished image, if known."""
        size_changed = self.image is None or self.image.size() != image.size()
        self.image = image
        self.is_preview = preview
        self.infotext = "" if preview else infotext
        if not preview:
            self._stable = (image, infotext)
        if size_changed and self._fit_mode:
            self.fit()
        self.update()
        if not preview:
            self.image_changed.emit()

    def drop_preview(self) -> None:
        """Replace a live preview by the image shown before it (or the placeholder)."""
        if not self.is_preview:
            return
        if self._stable is None:
            self.clear()
        else:
            self.set_image(*self._stable)

    def show_region_preview(self, image: QImage, box: QRect) -> None:
        """Show a (masked, RGBA) preview in place over `box` of the current image."""
        self.region_preview = (image, box)
        self.update()

    def clear_region_preview(self) -> None:
        self.region_preview = None
        self.update()

    def show_preview(self, image: QImage, target: QSize) -> None:
        """Show a small latent-resolution preview stretched to the final image size."""
        if target.isEmpty():
            target = image.size()
        scaled = image.scaled(target, Qt.AspectRatioMode.IgnoreAspectRatio,
                              Qt.TransformationMode.SmoothTransformation)
        self.set_image(scaled, preview=True)

    def clear(self, placeholder: str | None = None) -> None:
        self.image, self.is_preview, self.infotext, self._stable = None, False, "", None
        if placeholder is not None:
            self.placeholder = placeholder
        self.update()

    def set_placeholder(self, text: str) -> None:
        """The hint shown while there is no image."""
        self.placeholder = text
        self.update()

    @property
    def extend_handles(self) -> bool:
        """Whether the outpaint handles show on the image's border (fitting leaves room)."""
        return self._extend_handles

    @extend_handles.setter
    def extend_handles(self, shown: bool) -> None:
        if shown != self._extend_handles:
            self._extend_handles = shown
            if self._fit_mode:
                self.fit()
            self.update()

    def fit(self) -> None:
        self._fit_mode = True
        if self.image is None or self.image.isNull():
            return
        margin = 24 + (2 * extend_handles.ROOM if self._extend_handles else 0)
        grow = {k: max(0, v) for k, v in self.pending_extend.items()} \
            if self._extend_handles else {}
        wide = self.image.width() + grow.get("left", 0) + grow.get("right", 0)
        high = self.image.height() + grow.get("top", 0) + grow.get("bottom", 0)
        zoom = max(_MIN_ZOOM, min((self.width() - margin) / wide, (self.height() - margin) / high))
        self._set_zoom(zoom)
        # centre the canvas the pending extension would make, not only the image
        self.offset = QPointF((grow.get("left", 0) - grow.get("right", 0)) * zoom / 2,
                              (grow.get("top", 0) - grow.get("bottom", 0)) * zoom / 2)
        self.update()

    def set_actual_size(self) -> None:
        self._fit_mode = False
        self._set_zoom(1.0)
        self.offset = QPointF(0, 0)
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom by `factor`, keeping the image point under `anchor` (widget coords) fixed."""
        if self.image is None:
            return
        self._fit_mode = False
        anchor = anchor or QPointF(self.width() / 2, self.height() / 2)
        before = self.widget_to_image(anchor)
        self._set_zoom(min(_MAX_ZOOM, max(_MIN_ZOOM, self.zoom * factor)))
        after = self.image_to_widget(before)
        self.offset += anchor - after
        self.update()

    def _set_zoom(self, zoom: float) -> None:
        self.zoom = zoom
        self.zoom_changed.emit(zoom)

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in widget coordinates."""
        if self.image is None:
            return QRectF()
        w, h = self.image.width() * self.zoom, self.image.height() * self.zoom
        x = (self.width() - w) / 2 + self.offset.x()
        y = (self.height() - h) / 2 + self.offset.y()
        return QRectF(x, y, w, h)

    def widget_to_image(self, point: QPointF) -> QPointF:
        rect = self.image_rect()
        return QPointF((point.x() - rect.x()) / self.zoom, (point.y() - rect.y()) / self.zoom)

    def image_to_widget(self, point: QPointF) -> QPointF:
        rect = self.image_rect()
        return QPointF(rect.x() + point.x() * self.zoom, rect.y() + point.y() * self.zoom)

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001
        if self._fit_mode:
            self.fit()
        super().resizeEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(1.25**steps, event.position())

    def _wants_pan(self, event: QMouseEvent) -> bool:
        if event.button() == Qt.MouseButton.MiddleButton:
            return True
        return not (self.painting and self.mask is not None) or self._space_down

    def _handle_at(self, point: QPointF) -> str | None:
        if not self.extend_handles or self.image is None or self.is_preview:
            return None
        return extend_handles.handle_at(self.image_rect(), point)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        side = (self._handle_at(event.position())
                if event.button() == Qt.MouseButton.LeftButton else None)
        if side is not None:
            self._extend_drag = (side, event.position(), 0)
            return
        if event.button() == Qt.MouseButton.LeftButton and not self._wants_pan(event):
            self.mask.begin()  # type: ignore[union-attr]
            self._stroke_last = self.widget_to_image(event.position())
            self._paint_to(self._stroke_last)
            return
        if event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        old_cursor = self._cursor_pos
        self._cursor_pos = event.position()
        if self._extend_drag is not None:
            side, start, _ = self._extend_drag
            pixels = extend_handles.dragged_pixels(side, start, event.position(), self.zoom)
            self._extend_drag = (side, start, pixels)
            self.update()
        elif self._stroke_last is not None:
            self._paint_to(self.widget_to_image(event.position()))
        elif self._drag_from is not None:
            self._fit_mode = False
            self.offset += event.position() - self._drag_from
            self._drag_from = event.position()
            self.update()
        elif self.painting and self.mask is not None:
            self._update_cursor_outline(old_cursor)
        self._hover_cursor(event.position())

    def _hover_cursor(self, point: QPointF) -> None:
        """A resize cursor over an outpaint handle (and while dragging one)."""
        side = self._extend_drag[0] if self._extend_drag else self._handle_at(point)
        if side is not None:
            horizontal = side in ("left", "right")
            self.setCursor(Qt.CursorShape.SizeHorCursor if horizontal
                           else Qt.CursorShape.SizeVerCursor)
        elif self._drag_from is None:
            self.unsetCursor()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._extend_drag is not None:
            side, _, pixels = self._extend_drag
            self._extend_drag = None
            self.update()
            if pixels > 0:
                self.extend_dragged.emit(side, pixels)
        if self._stroke_last is not None:
            self._stroke_last = None
            self.mask.end()  # type: ignore[union-attr]
            self.mask_changed.emit()
            self.update()  # the automatic overlay colour follows the new mask
        self._drag_from = None
        self.unsetCursor()

    def _paint_to(self, point: QPointF) -> None:
        """Stamp the brush from the last stroke point to `point` (image coords)."""
        start = self._stroke_last or point
        dirty = self.mask.dab_line(start, point, self.brush.radius,  # type: ignore[union-attr]
                                   self.brush.hardness, self.brush.erase)
        self._stroke_last = point
        self.update(self._widget_rect_of(QRectF(dirty)).adjusted(-2, -2, 2, 2))

    def _widget_rect_of(self, image_rect: QRectF) -> QRect:
        top_left = self.image_to_widget(image_rect.topLeft())
        return QRectF(top_left, image_rect.size() * self.zoom).toAlignedRect()

    def _update_cursor_outline(self, old: QPointF | None) -> None:
        r = self.brush.radius * self.zoom + 3
        for point in (old, self._cursor_pos):
            if point is not None:
                self.update(QRectF(point.x() - r, point.y() - r, 2 * r, 2 * r).toAlignedRect())

    def set_brush_radius(self, radius: float) -> None:
        self.brush.radius = max(1.0, min(1024.0, radius))
        self.brush_changed.emit()
        self.update()

    def step_brush(self, larger: bool) -> None:
        """One `]` (larger) or `[` step of the brush size."""
        radius = self.brush.radius
        self.set_brush_radius(radius * 1.2 + 1 if larger else radius / 1.2 - 1)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_BracketRight, Qt.Key.Key_BracketLeft):
            self.step_brush(event.key() == Qt.Key.Key_BracketRight)
        elif event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
        super().keyReleaseEvent(event)

    def dragEnterEvent(self, event) -> None:  # noqa: N802, ANN001
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802, ANN001
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            self.image_dropped.emit(files[0])
            event.acceptProposedAction()

    def leaveEvent(self, event) -> None:  # noqa: N802, ANN001
        self._cursor_pos = None
        self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.fit()

    def paintEvent(self, event) -> None:  # noqa: N802, ANN001
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(115))
        if self.image is None:
            self._paint_placeholder(painter)
            return
        rect = self.image_rect()
        self._paint_checkerboard(painter, rect)
        # Fitted (a 64-px result shown at 8×) and previews scale smoothly; pixels show as
        # blocks only when the user zooms in to inspect them.
        smooth = self.zoom < 1.0 or self.is_preview or self._fit_mode
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(rect, self.image)
        if self.region_preview is not None:
            preview, box = self.region_preview
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(self._widget_rect_of(QRectF(box)), preview)
        if self.mask is not None and self.painting:
            self._paint_mask_overlay(painter, rect, event.rect())
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))
        if self.painting and self.mask is not None and self._cursor_pos is not None \
                and self._extend_drag is None:
            self._paint_brush_outline(painter)
        if self.extend_handles and not self.is_preview:
            self._paint_extend_handles(painter, rect)

    def set_mask_color(self, choice: str) -> None:
        """Overlay colour: a name in OVERLAY_COLORS, or AUTO (contrasts with the image)."""
        self.mask_color_choice = choice if choice in OVERLAY_COLORS else AUTO
        self.update()

    def mask_color(self) -> QColor:
        """The overlay colour in use; AUTO is recomputed when a stroke ends or the image
        changes (the mean colour under the mask, or of the whole image)."""
        if self.mask_color_choice != AUTO or self.image is None:
            return OVERLAY_COLORS.get(self.mask_color_choice, OVERLAY_COLORS["Red"])
        revision = self.mask.revision if self.mask is not None else -1
        key = (self.image.cacheKey(), revision)
        cached = self._auto_color
        if cached is None or (cached[0] != key and self._stroke_last is None):
            mask = self.mask.to_numpy() if self.mask is not None else None
            self._auto_color = cached = (key, contrast_color(self.image, mask))
        return cached[1]

    def _paint_mask_overlay(self, painter: QPainter, rect: QRectF, clip: QRect) -> None:
        """Tint masked pixels and outline the mask's edge, at screen resolution."""
        area = rect.toAlignedRect().intersected(clip)
        if area.isEmpty():
            return
        layer = render_overlay(self.mask.image, rect, area,  # type: ignore[union-attr]
                               self.mask_color(), self.mask_opacity, self.zoom < 1)
        painter.drawImage(area.topLeft(), layer)

    def _paint_brush_outline(self, painter: QPainter) -> None:
        r = self.brush.radius * self.zoom
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, width in ((QColor(0, 0, 0, 180), 3), (QColor(255, 255, 255, 230), 1)):
            painter.setPen(QPen(color, width))
            painter.drawEllipse(self._cursor_pos, r, r)

    def _paint_extend_handles(self, painter: QPainter, rect: QRectF) -> None:
        """The four border tabs, the canvas the Extend fields would make (dashed) and, while a
        tab is dragged, its size beside the cursor."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(0, 0, 0, 200), 1))
        painter.setBrush(QColor(235, 235, 235, 230))
        for handle in extend_handles.handle_rects(rect).values():
            painter.drawRoundedRect(handle, 3, 3)
        sides = {k: v for k, v in self.pending_extend.items() if v > 0}
        if self._extend_drag is not None and self._extend_drag[2]:
            sides[self._extend_drag[0]] = self._extend_drag[2]
        if not sides:
            return
        grown = extend_handles.extended_rect(rect, sides, self.zoom)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for color, style in ((QColor(0, 0, 0, 200), Qt.PenStyle.SolidLine),
                             (QColor(255, 255, 255, 230), Qt.PenStyle.DashLine)):
            painter.setPen(QPen(color, 1.5, style))
            painter.drawRect(grown)
        if self._extend_drag is not None and self._extend_drag[2]:
            side, _, pixels = self._extend_drag
            self._paint_drag_label(painter, f"{side} +{pixels} px")

    def set_pending_extend(self, sides: dict[str, int]) -> None:
        """Outline the canvas the Extend fields would make (an empty dict: none)."""
        self.pending_extend = dict(sides)
        if self._fit_mode:
            self.fit()  # the outline fits in view
        self.update()

    def _paint_drag_label(self, painter: QPainter, text: str) -> None:
        """`text` in a dark box beside the cursor, kept inside the widget."""
        box = QRectF(painter.fontMetrics().boundingRect(text)).adjusted(-6, -3, 6, 3)
        at = (self._cursor_pos or QPointF(0, 0)) + QPointF(14, 14)
        x = min(max(2.0, at.x()), self.width() - box.width() - 2)
        y = min(max(2.0, at.y()), self.height() - box.height() - 2)
        box.moveTo(x, y)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 20, 24, 220))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_placeholder(self, painter: QPainter) -> None:
        painter.setPen(self.palette().color(self.foregroundRole()).darker(140))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        painter.setFont(font)
        box = self.rect().adjusted(40, 40, -40, -40)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         self.placeholder)

    @staticmethod
    def _paint_checkerboard(painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, QColor(60, 60, 60))
