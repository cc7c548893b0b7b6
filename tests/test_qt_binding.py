"""Guards against a Qt binding that leaks or drops references on every call (PySide6 6.12.0
dropped a reference to None per void call, crashing long painting sessions)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter


def test_painter_calls_keep_none_refcount_stable(qapp):
    image = QImage(32, 32, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    before = sys.getrefcount(None)
    for _ in range(2000):
        painter.fillRect(QRectF(0, 0, 8, 8), QColor(60, 60, 60))
        painter.setOpacity(0.5)
    drift = sys.getrefcount(None) - before
    painter.end()
    assert abs(drift) < 400, f"None refcount drifted by {drift} over 4000 void calls"
