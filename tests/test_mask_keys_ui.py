"""Edit-tab keys ([ ] Ctrl+Z Ctrl+Shift+Z) work whatever has focus, except in text boxes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.test_edit_ui import _stroke, editing  # noqa: F401 - fixture reuse
from tests.test_ui import studio_window  # noqa: F401 - fixture reuse

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def _focus(window, widget) -> None:
    window.activateWindow()
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    QTest.qWait(10)
    assert widget.hasFocus()


def _check_keys_with_focus_on(window, widget) -> None:
    canvas = window.canvas
    _stroke(canvas, [(20, 60), (100, 60)])
    painted = canvas.mask.to_numpy()
    _focus(window, widget)
    before = canvas.brush.radius
    QTest.keyClick(widget, Qt.Key.Key_BracketLeft)
    assert canvas.brush.radius < before
    assert window.edit_panel.brush_size.value() == round(canvas.brush.radius * 2)
    QTest.keyClick(widget, Qt.Key.Key_BracketRight)
    assert canvas.brush.radius > before - 0.5
    QTest.keyClick(widget, Qt.Key.Key_Z, CTRL)
    assert not canvas.mask.to_numpy().any()
    QTest.keyClick(widget, Qt.Key.Key_Z, CTRL | SHIFT)
    assert np.array_equal(canvas.mask.to_numpy(), painted)


def test_keys_work_with_focus_on_a_button(editing):  # noqa: F811
    _check_keys_with_focus_on(editing, editing.edit_panel.clear_button)


def test_keys_work_with_focus_on_a_slider(editing):  # noqa: F811
    slider = editing.edit_panel.hardness
    hardness = slider.value()
    _check_keys_with_focus_on(editing, slider)
    assert slider.value() == hardness  # the slider did not take the keys


def test_keys_work_with_focus_on_the_canvas(editing):  # noqa: F811
    _check_keys_with_focus_on(editing, editing.canvas)


def test_prompt_box_keeps_brackets_and_undo(editing):  # noqa: F811
    window, canvas = editing, editing.canvas
    _stroke(canvas, [(20, 60), (100, 60)])
    painted = canvas.mask.to_numpy()
    prompt = window.edit_panel.prompt
    _focus(window, prompt)
    before = canvas.brush.radius
    QTest.keyClicks(prompt, "a")
    QTest.keyClick(prompt, Qt.Key.Key_BracketLeft, Qt.KeyboardModifier.NoModifier, 0)
    QTest.keyClick(prompt, Qt.Key.Key_BracketRight)
    assert "[" in prompt.toPlainText() and "]" in prompt.toPlainText()
    assert canvas.brush.radius == before
    QTest.keyClick(prompt, Qt.Key.Key_Z, CTRL)
    assert prompt.toPlainText() != "a[]"  # the text's own undo ran
    assert np.array_equal(canvas.mask.to_numpy(), painted)  # the mask kept its stroke


def test_spin_box_keeps_its_keys(editing):  # noqa: F811
    window, canvas = editing, editing.canvas
    spin = window.edit_panel.padding
    _focus(window, spin)
    before = canvas.brush.radius
    QTest.keyClick(spin, Qt.Key.Key_BracketLeft)
    assert canvas.brush.radius == before


def test_keys_do_nothing_on_other_tabs(editing):  # noqa: F811
    window, canvas = editing, editing.canvas
    _stroke(canvas, [(20, 60), (100, 60)])
    window.tabs.setCurrentWidget(window.panel)
    _focus(window, window.panel.generate_button)
    before = canvas.brush.radius
    QTest.keyClick(window.panel.generate_button, Qt.Key.Key_BracketLeft)
    QTest.keyClick(window.panel.generate_button, Qt.Key.Key_Z, CTRL)
    assert canvas.brush.radius == before and canvas.mask.to_numpy().any()
