"""Outpaint handles on the canvas border: drag one outward and that side's field takes it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtTest import QTest

from studio.ui.extend_handles import dragged_pixels, extended_rect, handle_at, handle_rects
from tests.test_edit_ui import editing  # noqa: F401 - fixture reuse
from tests.test_ui import studio_window  # noqa: F401 - fixture reuse

IMAGE = QRectF(100, 50, 200, 100)


def test_handles_sit_outside_the_middle_of_each_edge():
    rects = handle_rects(IMAGE)
    assert rects["right"].left() > IMAGE.right() and rects["left"].right() < IMAGE.left()
    assert rects["top"].bottom() < IMAGE.top() and rects["bottom"].top() > IMAGE.bottom()
    assert abs(rects["right"].center().y() - IMAGE.center().y()) < 1e-6
    assert handle_at(IMAGE, rects["top"].center()) == "top"
    assert handle_at(IMAGE, IMAGE.center()) is None  # inside the image: the brush's


@pytest.mark.parametrize(("side", "move", "zoom", "pixels"), [
    ("right", (80, 0), 2.0, 40),  # 80 widget px at 2x = 40 image px
    ("right", (-80, 0), 2.0, 0),  # inward: nothing
    ("left", (-50, 3), 1.0, 48),  # snapped to 8
    ("top", (0, -13), 1.0, 16),
    ("bottom", (0, 99_999), 1.0, 2048),  # capped
])
def test_a_drag_asks_for_outward_pixels_in_latent_cells(side, move, zoom, pixels):
    start = QPointF(10, 10)
    assert dragged_pixels(side, start, start + QPointF(*move), zoom) == pixels


def test_the_grown_rect_follows_the_side():
    grown = extended_rect(IMAGE, {"left": 20}, 2.0)
    assert (grown.left(), grown.right(), grown.height()) == (60, IMAGE.right(), 100)
    both = extended_rect(IMAGE, {"right": 10, "bottom": 5}, 1.0)
    assert (both.left(), both.right(), both.bottom()) == (100, 310, 155)


def _point(rect: QRectF) -> QPoint:
    return QPoint(round(rect.center().x()), round(rect.center().y()))


def test_dragging_the_right_handle_sets_the_extend_field(qtbot, editing):  # noqa: F811
    window = editing
    canvas, box = window.canvas, window.edit_panel.outpaint
    assert canvas.extend_handles and canvas.painting
    before = canvas.mask.to_numpy().copy()
    start = _point(handle_rects(canvas.image_rect())["right"])
    target = start + QPoint(round(64 * canvas.zoom), 0)
    seen = []
    canvas.extend_dragged.connect(lambda side, px: seen.append((side, px)))
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(canvas, target)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       target)
    assert seen == [("right", 64)] and box.side_boxes["right"].value() == 64
    assert "right 64 px" in window.notice.label.text()
    assert (canvas.mask.to_numpy() == before).all()  # the brush did not paint
    assert canvas.pending_extend["right"] == 64  # outlined until Extend uses it
    box.side_boxes["top"].setValue(16)
    assert canvas.pending_extend == {"left": 0, "right": 64, "top": 16, "bottom": 0}
    window.panel.steps.setValue(2)
    with qtbot.waitSignal(window.property("engine_signals").finished, timeout=90_000):
        QTest.mouseClick(box.extend_button, Qt.MouseButton.LeftButton)
        assert all(b.value() == 0 for b in box.side_boxes.values())
        assert not any(canvas.pending_extend.values())
    assert window.edit.source.size == (window.gallery.results[-1].image.size)
    window.tabs.setCurrentWidget(window.panel)
    assert not canvas.extend_handles  # only on the Edit tab
