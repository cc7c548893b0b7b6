from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from studio.core.inpaint import feather
from studio.core.previews import RegionPreview
from tests.test_ui import studio_window  # noqa: F401 - fixture reuse


def _photo(width=160, height=120):
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _widget_point(canvas, x, y) -> QPoint:
    point = canvas.image_to_widget(QPointF(x, y))
    return QPoint(round(point.x()), round(point.y()))


def _stroke(canvas, points, button=Qt.MouseButton.LeftButton):
    first = _widget_point(canvas, *points[0])
    QTest.mousePress(canvas, button, Qt.KeyboardModifier.NoModifier, first)
    for x, y in points[1:]:
        QTest.mouseMove(canvas, _widget_point(canvas, x, y))
    QTest.mouseRelease(canvas, button, Qt.KeyboardModifier.NoModifier,
                       _widget_point(canvas, *points[-1]))


@pytest.fixture
def editing(studio_window):  # noqa: F811
    window = studio_window
    window.edit.set_source(_photo(), "test photo")
    window.canvas.brush.hardness = 1.0
    window.canvas.set_brush_radius(6)
    return window


def test_stroke_paints_mask_where_the_mouse_went(editing):
    canvas = editing.canvas
    assert editing.tabs.currentWidget() is editing.edit_panel and canvas.painting
    _stroke(canvas, [(20, 60), (60, 60), (100, 60)])
    mask = canvas.mask.to_numpy()
    assert mask[60, 20] > 200 and mask[60, 60] > 200 and mask[60, 100] > 200  # along the line
    assert mask[60, 80] > 200  # interpolated between move events
    assert mask[20, 60] == 0 and mask[100, 60] == 0 and mask[60, 140] == 0  # nowhere else
    assert canvas.mask.can_undo()


def test_eraser_and_undo_restore_the_mask(editing):
    canvas, panel = editing.canvas, editing.edit_panel
    _stroke(canvas, [(20, 60), (100, 60)])
    painted = canvas.mask.to_numpy()
    panel.eraser.setChecked(True)
    _stroke(canvas, [(60, 40), (60, 80)])
    erased = canvas.mask.to_numpy()
    assert erased[60, 60] == 0 and erased[60, 25] > 200
    QTest.keyClick(editing, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(canvas.mask.to_numpy(), painted)
    QTest.keyClick(editing, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not canvas.mask.to_numpy().any()
    QTest.keyClick(editing, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(canvas.mask.to_numpy(), painted)


def test_brackets_resize_the_brush_and_invert_fills(editing):
    canvas, panel = editing.canvas, editing.edit_panel
    canvas.setFocus()
    before = canvas.brush.radius
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush.radius > before
    assert panel.brush_size.value() == round(canvas.brush.radius * 2)
    QTest.mouseClick(panel.invert_button, Qt.MouseButton.LeftButton)
    assert canvas.mask.to_numpy().min() == 255


def test_painted_inpaint_through_the_gui_keeps_unmasked_pixels(qtbot, editing):
    window = editing
    source = np.asarray(window.edit.source).copy()
    window.panel.steps.setValue(3)
    window.panel.seed.setValue(5)
    window.edit_panel.work_resolution.setValue(64)
    window.edit_panel.strength.setValue(1.0)
    qtbot.keyClicks(window.edit_panel.prompt, "a red apple")
    _stroke(window.canvas, [(70, 50), (90, 70)])
    mask = window.canvas.mask.to_numpy()
    signals = window.property("engine_signals")
    previews = []
    signals.preview.connect(lambda job, step, total, image: previews.append(image))
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        QTest.mouseClick(window.edit_panel.run_button, Qt.MouseButton.LeftButton)
    assert previews and isinstance(previews[0], RegionPreview)
    result = window.gallery.results[-1]
    out = np.asarray(result.image)
    keep = feather(mask, window.edit_panel.mask_blur.value()) == 0
    assert np.array_equal(out[keep], source[keep])
    assert not np.array_equal(out, source)
    # the result becomes the new source and the mask clears (undoably)
    assert np.array_equal(np.asarray(window.edit.source), out)
    assert not window.canvas.mask.to_numpy().any()
    assert window.canvas.region_preview is None


def test_inpaint_without_mask_explains(qtbot, editing):
    signals = editing.property("engine_signals")
    editing.edit_panel.work_resolution.setValue(64)
    with qtbot.waitSignal(signals.failed, timeout=60_000):
        editing.generate()  # Ctrl+Enter on the Edit tab
    assert "mask is empty" in editing.notice.text


def test_dropping_a_file_on_the_canvas_opens_it(editing, tmp_path):
    path = tmp_path / "drop.png"
    _photo(48, 32).save(path)
    editing.canvas.image_dropped.emit(str(path))
    assert editing.edit.source.size == (48, 32)
    assert editing.canvas.mask.width == 48
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    editing.canvas.image_dropped.emit(str(bad))
    assert "Could not open bad.png" in editing.notice.text
