"""A small image fitted to the canvas is scaled smoothly; zoomed in by hand, pixels show."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from studio.ui.canvas import ImageCanvas


def _grab(canvas) -> np.ndarray:
    image = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(height, stride)
    return rows[:, : width * 3].reshape(height, width, 3).copy()


def _middle_row_greys(canvas) -> set[int]:
    """The distinct grey levels across the image's middle row (inside its drawn rect)."""
    rect = canvas.image_rect().toRect().adjusted(2, 2, -2, -2)
    pixels = _grab(canvas)
    row = pixels[rect.center().y(), rect.left():rect.right(), 0]
    return set(row.tolist())


def test_fitted_images_are_smooth_and_zoomed_ones_show_their_pixels(qtbot):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    stripes = QImage(8, 8, QImage.Format.Format_RGB888)
    for x in range(8):
        for y in range(8):
            value = 0 if x % 2 else 255
            stripes.setPixelColor(x, y, stripes.pixelColor(x, y).fromRgb(value, value, value))
    canvas.set_image(stripes)
    canvas.fit()
    assert canvas.zoom > 8
    fitted = _middle_row_greys(canvas)
    assert len(fitted - {0, 255}) > 10  # blended between the pixels: no hard blocks
    canvas.zoom_by(1.25)
    zoomed = _middle_row_greys(canvas)
    assert zoomed <= {0, 255}  # pixel-exact blocks for inspection
    canvas.fit()
    assert len(_middle_row_greys(canvas) - {0, 255}) > 10
