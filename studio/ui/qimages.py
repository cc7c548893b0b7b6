"""Conversions to QImage (GUI thread only)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage


def qimage_from_array(array: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 array as a QImage that owns its pixels."""
    data = np.ascontiguousarray(array[..., :3], dtype=np.uint8)
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()


def qimage_from_rgba(array: np.ndarray) -> QImage:
    """An (H, W, 4) uint8 RGBA array (straight alpha) as a QImage."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    height, width = data.shape[:2]
    return QImage(data.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()


def qimage_from_pil(image: Image.Image) -> QImage:
    if image.mode == "RGBA":
        data = np.ascontiguousarray(np.asarray(image), dtype=np.uint8)
        h, w = data.shape[:2]
        return QImage(data.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
    return qimage_from_array(np.asarray(image.convert("RGB")))
