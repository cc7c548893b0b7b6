"""The mask overlay stays visible on any image (auto colour, outline); brush size shown."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from tests.test_edit_ui import _stroke, _widget_point, editing  # noqa: F401 - fixture reuse
from tests.test_ui import studio_window  # noqa: F401 - fixture reuse


def _grab(canvas) -> np.ndarray:
    image = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(height, stride)
    return rows[:, : width * 3].reshape(height, width, 3).copy()


def _at(canvas, pixels: np.ndarray, x: float, y: float) -> np.ndarray:
    point = _widget_point(canvas, x, y)
    return pixels[point.y(), point.x()].astype(int)


def _hue_distance_from_red(rgb: np.ndarray) -> float:
    hue = colorsys.rgb_to_hsv(*(rgb / 255))[0] * 360
    return min(hue, 360 - hue)


def _source(window, color) -> None:
    window.edit.set_source(Image.new("RGB", (160, 120), color), "plain")
    window.canvas.brush.hardness = 1.0
    window.canvas.set_brush_radius(12)
    window.edit_panel.opacity.setValue(60)


@pytest.mark.parametrize("choice", ["Auto", "Green", "Blue"])
def test_overlay_on_a_red_image_is_not_red(editing, choice):  # noqa: F811
    _source(editing, (210, 25, 30))
    editing.edit_panel.overlay_color.setCurrentText(choice)
    _stroke(editing.canvas, [(40, 60), (120, 60)])
    pixel = _at(editing.canvas, _grab(editing.canvas), 80, 60)
    assert _hue_distance_from_red(pixel) > 60, pixel


def test_red_overlay_on_a_red_image_stays_red(editing):  # noqa: F811 - the check can fail
    _source(editing, (210, 25, 30))
    editing.edit_panel.overlay_color.setCurrentText("Red")
    _stroke(editing.canvas, [(40, 60), (120, 60)])
    pixel = _at(editing.canvas, _grab(editing.canvas), 80, 60)
    assert _hue_distance_from_red(pixel) < 20, pixel


def test_auto_follows_the_image_under_the_mask(editing):  # noqa: F811
    canvas = editing.canvas
    _source(editing, (30, 60, 230))  # blue
    on_blue = canvas.mask_color()
    assert on_blue.blue() < 128
    _source(editing, (20, 220, 40))  # green
    assert canvas.mask_color().green() < 128
    assert canvas.mask_color() != on_blue


def test_mask_edge_is_outlined_black_and_white(editing):  # noqa: F811
    canvas = editing.canvas
    _source(editing, (128, 128, 128))
    _stroke(canvas, [(40, 60), (120, 60)])
    pixels = _grab(canvas)
    inside, outside = _at(canvas, pixels, 80, 60), _at(canvas, pixels, 80, 20)
    assert np.abs(inside - outside).max() > 20  # tinted inside
    top, bottom = _widget_point(canvas, 80, 40).y(), _widget_point(canvas, 80, 60).y()
    column = pixels[top:bottom, _widget_point(canvas, 60, 0).x() - 6:
                    _widget_point(canvas, 100, 0).x() + 6].reshape(-1, 3).astype(int)
    black = (column.max(axis=1) < 40).sum()
    white = (column.min(axis=1) > 215).sum()
    assert black > 3 and white > 3  # dashes of both colours along the upper edge
    # the line is at the edge, not inside or outside
    assert inside.min() > 40 and outside.min() > 40 and inside.max() < 215


def test_brush_size_label_and_cursor_of_the_true_size(editing):  # noqa: F811
    canvas, panel = editing.canvas, editing.edit_panel
    _source(editing, (128, 128, 128))
    assert panel.brush_label.text() == "Brush 24 px"
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert panel.brush_label.text() == f"Brush {panel.brush_size.value()} px"
    assert panel.brush_size.value() == round(canvas.brush.radius * 2)
    center = _widget_point(canvas, 80, 60)
    QTest.mouseMove(canvas, center)
    pixels = _grab(canvas)
    r = round(canvas.brush.radius * canvas.zoom)
    ring = pixels[center.y(), center.x() + r - 2: center.x() + r + 3].astype(int)
    # the circle is drawn at radius × zoom (antialiased: its darkest pixel varies with the
    # sub-pixel position, 50-120 levels off the grey here)
    assert (np.abs(ring - 128).max(axis=1) > 30).any()
    assert np.abs(pixels[center.y(), center.x() + r // 2].astype(int) - 128).max() < 10
