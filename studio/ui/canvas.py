"""The image canvas: zoom, pan, fit; shows the live denoised preview, then the result."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

_MIN_ZOOM, _MAX_ZOOM = 0.05, 32.0


class ImageCanvas(QWidget):
    """Displays one image; wheel zooms at the cursor, middle/left drag pans, double-click fits."""

    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.setMouseTracking(True)
        self.image: QImage | None = None
        self.is_preview = False
        self.placeholder = "Type a prompt and press Ctrl+Enter to generate."
        self.zoom = 1.0
        self.offset = QPointF(0, 0)
        self._fit_mode = True
        self._drag_from: QPointF | None = None

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(640, 640)

    def set_image(self, image: QImage, preview: bool = False) -> None:
        """Show `image` (a preview is scaled smoothly to the target size by the caller)."""
        size_changed = self.image is None or self.image.size() != image.size()
        self.image = image
        self.is_preview = preview
        if size_changed and self._fit_mode:
            self.fit()
        self.update()

    def show_preview(self, image: QImage, target: QSize) -> None:
        """Show a small latent-resolution preview stretched to the final image size."""
        if target.isEmpty():
            target = image.size()
        scaled = image.scaled(target, Qt.AspectRatioMode.IgnoreAspectRatio,
                              Qt.TransformationMode.SmoothTransformation)
        self.set_image(scaled, preview=True)

    def clear(self, placeholder: str | None = None) -> None:
        self.image = None
        if placeholder is not None:
            self.placeholder = placeholder
        self.update()

    def fit(self) -> None:
        self._fit_mode = True
        if self.image is None or self.image.isNull():
            return
        margin = 24
        scale_w = (self.width() - margin) / self.image.width()
        scale_h = (self.height() - margin) / self.image.height()
        self._set_zoom(max(_MIN_ZOOM, min(scale_w, scale_h)))
        self.offset = QPointF(0, 0)
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

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag_from is not None:
            self._fit_mode = False
            self.offset += event.position() - self._drag_from
            self._drag_from = event.position()
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag_from = None
        self.unsetCursor()

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
        smooth = self.zoom < 1.0 or self.is_preview
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(rect, self.image)
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))

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
