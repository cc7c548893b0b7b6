"""A small line plot drawn with QPainter: labelled axes, ticks, up to two y axes, a marker."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 46, 46, 22, 34


@dataclass
class Series:
    label: str
    xs: np.ndarray
    ys: np.ndarray
    color: str
    right_axis: bool = False  # plotted against the right-hand y axis


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-2):
        return f"{value:.0e}"
    return f"{value:g}"


class LinePlot(QWidget):
    """Lines over a shared x axis; `set_marker` draws a labelled vertical line."""

    def __init__(self, x_label: str = "", y_label: str = "", right_label: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x_label, self.y_label, self.right_label = x_label, y_label, right_label
        self.series: list[Series] = []
        self.marker: float | None = None
        self.marker_text = ""
        self.title = ""
        self.setMinimumSize(260, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(320, 180)

    def set_series(self, series: list[Series]) -> None:
        self.series = [s for s in series if len(s.xs)]
        self.update()

    def set_marker(self, x: float | None, text: str = "") -> None:
        self.marker, self.marker_text = x, text
        self.update()

    def _ranges(self, right: bool) -> tuple[float, float, float, float] | None:
        chosen = [s for s in self.series if s.right_axis == right]
        if not self.series or not chosen:
            return None
        xs = np.concatenate([np.asarray(s.xs, dtype=float) for s in self.series])
        ys = np.concatenate([np.asarray(s.ys, dtype=float) for s in chosen])
        ys = ys[np.isfinite(ys)]
        if not len(ys):
            return None
        y0, y1 = float(ys.min()), float(ys.max())
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5, y1 + 0.5
        return float(xs.min()), float(max(xs.max(), xs.min() + 1e-9)), y0, y1

    def paintEvent(self, _event) -> None:  # noqa: N802, ANN001
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#1f2023"))
        area = QRectF(MARGIN_LEFT, MARGIN_TOP, self.width() - MARGIN_LEFT - MARGIN_RIGHT,
                      self.height() - MARGIN_TOP - MARGIN_BOTTOM)
        painter.setPen(QPen(QColor("#6b6e75"), 1))
        painter.drawRect(area)
        left, right = self._ranges(False), self._ranges(True)
        if left is None and right is None:
            painter.setPen(QColor("#8a8d93"))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "no data yet")
            painter.end()
            return
        main = left or right
        assert main is not None
        self._draw_x_axis(painter, area, main)
        for ranges, on_right in ((left, False), (right, True)):
            if ranges is not None:
                self._draw_y_axis(painter, area, ranges, on_right)
                self._draw_lines(painter, area, (main[0], main[1], ranges[2], ranges[3]), on_right)
        self._draw_marker(painter, area, main)
        self._draw_legend(painter, area)
        painter.end()

    @staticmethod
    def _map(area: QRectF, r: tuple[float, float, float, float], x: float, y: float) -> QPointF:
        fx = (x - r[0]) / (r[1] - r[0])
        fy = (y - r[2]) / (r[3] - r[2])
        return QPointF(area.left() + fx * area.width(), area.bottom() - fy * area.height())

    def _draw_x_axis(self, painter: QPainter, area: QRectF, r: tuple) -> None:
        painter.setPen(QColor("#c8cad0"))
        for tick in nice_ticks(r[0], r[1]):
            point = self._map(area, r, tick, r[2])
            painter.drawLine(point, point + QPointF(0, 4))
            painter.drawText(QRectF(point.x() - 30, area.bottom() + 4, 60, 14),
                             Qt.AlignmentFlag.AlignHCenter, _label(tick))
        painter.drawText(QRectF(area.left(), area.bottom() + 17, area.width(), 14),
                         Qt.AlignmentFlag.AlignHCenter, self.x_label)

    def _draw_y_axis(self, painter: QPainter, area: QRectF, r: tuple, on_right: bool) -> None:
        color = self._axis_color(on_right)
        painter.setPen(QColor(color))
        edge = area.right() if on_right else area.left()
        for tick in nice_ticks(r[2], r[3]):
            y = self._map(area, r, r[0], tick).y()
            painter.drawLine(QPointF(edge, y), QPointF(edge + (4 if on_right else -4), y))
            box = QRectF(edge + 6, y - 7, 40, 14) if on_right else QRectF(edge - 46, y - 7, 40, 14)
            align = Qt.AlignmentFlag.AlignLeft if on_right else Qt.AlignmentFlag.AlignRight
            painter.drawText(box, align | Qt.AlignmentFlag.AlignVCenter, _label(tick))
        text = self.right_label if on_right else self.y_label
        painter.drawText(QRectF(edge - 40 if on_right else edge - 44, 2, 84, 16),
                         Qt.AlignmentFlag.AlignRight if on_right else Qt.AlignmentFlag.AlignLeft,
                         text)

    def _axis_color(self, on_right: bool) -> str:
        for s in self.series:
            if s.right_axis == on_right:
                return s.color
        return "#c8cad0"

    def _draw_lines(self, painter: QPainter, area: QRectF, r: tuple, on_right: bool) -> None:
        for s in self.series:
            if s.right_axis != on_right:
                continue
            path = QPainterPath()
            points = [(float(x), float(y)) for x, y in zip(s.xs, s.ys, strict=False)
                      if math.isfinite(float(y))]
            for i, (x, y) in enumerate(points):
                point = self._map(area, r, x, y)
                path.moveTo(point) if i == 0 else path.lineTo(point)
            painter.setPen(QPen(QColor(s.color), 1.6))
            painter.drawPath(path)

    def _draw_marker(self, painter: QPainter, area: QRectF, r: tuple) -> None:
        if self.marker is None:
            return
        x = self._map(area, r, self.marker, r[2]).x()
        painter.setPen(QPen(QColor("#f0c040"), 1.2, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        if self.marker_text:
            painter.setPen(QColor("#f0c040"))
            flip = x > area.center().x()
            box = QRectF(x - 124, area.top() + 2, 120, 14) if flip else \
                QRectF(x + 4, area.top() + 2, 120, 14)
            align = Qt.AlignmentFlag.AlignRight if flip else Qt.AlignmentFlag.AlignLeft
            painter.drawText(box, align, self.marker_text)

    def _draw_legend(self, painter: QPainter, area: QRectF) -> None:
        y = area.bottom() - 16 * len(self.series) - 2
        for s in self.series:
            painter.setPen(QPen(QColor(s.color), 2))
            painter.drawLine(QPointF(area.left() + 8, y + 7), QPointF(area.left() + 22, y + 7))
            painter.setPen(QColor("#e6e6e6"))
            painter.drawText(QRectF(area.left() + 26, y, 160, 14), Qt.AlignmentFlag.AlignLeft,
                             s.label)
            y += 16
