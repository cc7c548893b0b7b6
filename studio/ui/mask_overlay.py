"""How the mask is shown: a tint in a colour that contrasts with the image, plus an outline."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QColor, QImage, QPainter

AUTO = "Auto"
OVERLAY_COLORS: dict[str, QColor] = {
    "Red": QColor(255, 40, 40),
    "Green": QColor(30, 230, 60),
    "Blue": QColor(40, 110, 255),
    "Magenta": QColor(255, 40, 255),
}
_SAMPLES = 256  # the mean colour is taken on at most about _SAMPLES² pixels
_DASH = 4  # outline dash length in screen pixels


def rgb_array(image: QImage) -> np.ndarray:
    """The image's pixels as a (H, W, 3) uint8 array (a copy)."""
    rgbx = image.convertToFormat(QImage.Format.Format_RGBX8888)
    buffer = np.frombuffer(rgbx.constBits(), np.uint8)
    rows = buffer.reshape(rgbx.height(), rgbx.bytesPerLine())
    return rows[:, : rgbx.width() * 4].reshape(rgbx.height(), rgbx.width(), 4)[..., :3].copy()


def mean_color(image: QImage, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean RGB of `image` under `mask` (> 127), or of the whole image when nothing is masked."""
    pixels = rgb_array(image)
    step = max(1, max(pixels.shape[:2]) // _SAMPLES)
    pixels = pixels[::step, ::step].reshape(-1, 3).astype(np.float64)
    if mask is not None and mask.shape == (image.height(), image.width()):
        inside = mask[::step, ::step].reshape(-1) > 127
        if inside.any():
            pixels = pixels[inside]
    return pixels.mean(axis=0)


def contrast_color(image: QImage, mask: np.ndarray | None = None) -> QColor:
    """Of the overlay colours, the one farthest (RGB distance) from the image's mean colour."""
    mean = mean_color(image, mask)

    def distance(color: QColor) -> float:
        return float(np.linalg.norm(mean - (color.red(), color.green(), color.blue())))

    return max(OVERLAY_COLORS.values(), key=distance)


def render_overlay(mask: QImage, target: QRectF, area: QRect, color: QColor, opacity: float,
                   smooth: bool) -> QImage:
    """The tinted mask with a dashed black/white edge line for widget `area`, at screen
    resolution; `target` is where the whole mask image lies in widget coordinates."""
    grown = area.adjusted(-1, -1, 1, 1)  # one pixel more each side to find edges at the border
    layer = QImage(grown.size(), QImage.Format.Format_ARGB32_Premultiplied)
    layer.fill(0)
    painter = QPainter(layer)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
    painter.drawImage(target.translated(-grown.x(), -grown.y()), mask)
    painter.end()
    buffer = np.frombuffer(layer.constBits(), np.uint8)
    alpha = buffer.reshape(grown.height(), layer.bytesPerLine())[:, 3: grown.width() * 4: 4]
    out = _tint(alpha[1:-1, 1:-1], color, opacity)
    _draw_edge(out, alpha >= 128, area)
    image = QImage(out.data, area.width(), area.height(), area.width() * 4,
                   QImage.Format.Format_ARGB32_Premultiplied)
    return image.copy()


def _tint(alpha: np.ndarray, color: QColor, opacity: float) -> np.ndarray:
    """Premultiplied BGRA pixels of `color` at `alpha` × `opacity`."""
    a = (alpha.astype(np.uint32) * round(opacity * 255) + 127) // 255
    out = np.empty((*alpha.shape, 4), np.uint8)
    for channel, value in enumerate((color.blue(), color.green(), color.red())):
        out[..., channel] = (a * value + 127) // 255
    out[..., 3] = a
    return out


def _draw_edge(out: np.ndarray, inside: np.ndarray, area: QRect) -> None:
    """Mark pixels on either side of the mask's edge with black and white dashes."""
    core = inside[1:-1, 1:-1]
    all_in = core & inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2] & inside[1:-1, 2:]
    any_in = core | inside[:-2, 1:-1] | inside[2:, 1:-1] | inside[1:-1, :-2] | inside[1:-1, 2:]
    edge = any_in & ~all_in  # the last pixel inside and the first outside
    if not edge.any():
        return
    ys, xs = np.nonzero(edge)
    white = ((xs + area.x() + ys + area.y()) // _DASH) % 2 == 0
    out[ys, xs, :3] = np.where(white, 255, 0)[:, None]
    out[ys, xs, 3] = 255
