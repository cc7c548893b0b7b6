"""The inpainting mask: an 8-bit alpha image at image resolution, brush dabs, tiled undo."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QRadialGradient

TILE = 256


@dataclass
class _Edit:
    """Tiles as they were before one stroke/operation: {(tx, ty): bytes of the tile}."""

    tiles: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tiles.values())


class MaskLayer:
    """Mask pixels (0 keep … 255 repaint) with round soft brush, eraser and bounded undo."""

    def __init__(self, width: int, height: int, undo_budget_bytes: int = 256 * 2**20) -> None:
        self.image = QImage(width, height, QImage.Format.Format_Alpha8)
        self.image.fill(0)
        self.undo_budget = undo_budget_bytes
        self._undo: list[_Edit] = []
        self._redo: list[_Edit] = []
        self._open: _Edit | None = None
        self.revision = 0

    @property
    def width(self) -> int:
        return self.image.width()

    @property
    def height(self) -> int:
        return self.image.height()

    def array(self) -> np.ndarray:
        """A writable numpy view (H, W) of the mask pixels."""
        stride = self.image.bytesPerLine()
        buffer = np.frombuffer(self.image.bits(), np.uint8)
        return buffer.reshape(self.height, stride)[:, : self.width]

    def to_numpy(self) -> np.ndarray:
        return self.array().copy()

    def is_empty(self) -> bool:
        return not self.array().any()

    # ----- edits --------------------------------------------------------------------------
    def begin(self) -> None:
        """Start an undoable edit (a stroke); tiles are saved the first time they change."""
        self._open = _Edit()

    def end(self) -> None:
        edit, self._open = self._open, None
        if edit and edit.tiles:
            self._undo.append(edit)
            self._redo.clear()
            self._trim()

    def _save_tiles(self, rect: QRect) -> None:
        if self._open is None:
            return
        rect = rect.intersected(self.image.rect())
        if rect.isEmpty():
            return
        pixels = self.array()
        for ty in range(rect.top() // TILE, rect.bottom() // TILE + 1):
            for tx in range(rect.left() // TILE, rect.right() // TILE + 1):
                if (tx, ty) not in self._open.tiles:
                    tile = pixels[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE]
                    self._open.tiles[(tx, ty)] = tile.copy()

    def dab_line(self, start: QPointF, end: QPointF, radius: float, hardness: float,
                 erase: bool = False) -> QRect:
        """Stamp round dabs from `start` to `end` (image coords); returns the changed rect."""
        distance = math.hypot(end.x() - start.x(), end.y() - start.y())
        spacing = max(1.0, radius * 0.25)
        count = max(1, int(distance / spacing) + 1)
        points = [start + (end - start) * (i / count) for i in range(1, count + 1)]
        if distance == 0:
            points = [end]
        r = max(0.5, radius)
        xs, ys = [p.x() for p in points], [p.y() for p in points]
        dirty = QRect(int(min(xs) - r - 1), int(min(ys) - r - 1),
                      int(max(xs) - min(xs) + 2 * r + 3), int(max(ys) - min(ys) + 2 * r + 3))
        self._save_tiles(dirty)
        painter = QPainter(self.image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        if erase:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationOut)
        for point in points:
            painter.setBrush(_dab_brush(point, r, hardness))
            painter.drawEllipse(point, r, r)
        painter.end()
        self.revision += 1
        return dirty.intersected(self.image.rect())

    def fill(self, value: int = 255) -> None:
        self._whole_image_edit(lambda a: a.fill(value))

    def clear(self) -> None:
        self.fill(0)

    def invert(self) -> None:
        self._whole_image_edit(lambda a: np.subtract(255, a, out=a))

    def set_pixels(self, mask: np.ndarray) -> None:
        """Replace the mask (undoable); `mask` must match the layer size."""
        if mask.shape != (self.height, self.width):
            raise ValueError(
                f"mask is {mask.shape[1]}×{mask.shape[0]} but the image is "
                f"{self.width}×{self.height}"
            )
        self._whole_image_edit(lambda a: np.copyto(a, mask.astype(np.uint8)))

    def _whole_image_edit(self, operation) -> None:  # noqa: ANN001
        self.begin()
        self._save_tiles(self.image.rect())
        operation(self.array())
        self.end()
        self.revision += 1

    # ----- undo ---------------------------------------------------------------------------
    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        return self._swap(self._undo, self._redo)

    def redo(self) -> bool:
        return self._swap(self._redo, self._undo)

    def _swap(self, source: list[_Edit], target: list[_Edit]) -> bool:
        if not source:
            return False
        edit = source.pop()
        pixels = self.array()
        inverse = _Edit()
        for (tx, ty), saved in edit.tiles.items():
            h, w = saved.shape
            region = pixels[ty * TILE:ty * TILE + h, tx * TILE:tx * TILE + w]
            inverse.tiles[(tx, ty)] = region.copy()
            region[...] = saved
        target.append(inverse)
        self.revision += 1
        return True

    def _trim(self) -> None:
        while len(self._undo) > 1 and self.undo_bytes > self.undo_budget:
            self._undo.pop(0)

    @property
    def undo_bytes(self) -> int:
        return sum(e.nbytes for e in self._undo) + sum(e.nbytes for e in self._redo)


def _dab_brush(center: QPointF, radius: float, hardness: float) -> QBrush:
    gradient = QRadialGradient(center, radius)
    solid = QColor(0, 0, 0, 255)
    gradient.setColorAt(0.0, solid)
    gradient.setColorAt(min(0.999, max(0.0, hardness)), solid)
    gradient.setColorAt(1.0, QColor(0, 0, 0, 0))
    return QBrush(gradient)
