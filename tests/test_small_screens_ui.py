"""Every tab stays usable on small screens: the window fits, text boxes ≥ 3 lines, no
spin box narrower than its value, scrolling columns never clipped sideways."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QAbstractSpinBox, QPlainTextEdit, QTextEdit

from studio.ui.panel_layout import ColumnScroll
from tests.test_ui import studio_window  # noqa: F401 - fixture reuse


def _visible(window, kind) -> list:
    return [w for w in window.findChildren(kind) if w.isVisibleTo(window) and w.isVisible()]


@pytest.mark.parametrize("size", [(1024, 640), (1366, 700)])
def test_every_tab_fits_small_windows(qtbot, studio_window, size):  # noqa: F811
    window = studio_window
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().toTuple() == size, timeout=3000)
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        qtbot.wait(20)
        name = window.tabs.tabText(index)
        assert window.size().toTuple() == size, name
        for box in _visible(window, QPlainTextEdit) + _visible(window, QTextEdit):
            lines = box.fontMetrics().lineSpacing() * 3 + 2 * box.document().documentMargin()
            assert box.viewport().height() >= lines, (name, box.placeholderText())
        for spin in _visible(window, QAbstractSpinBox):
            assert spin.width() >= spin.minimumSizeHint().width(), (name, spin.text())
            text = spin.fontMetrics().horizontalAdvance(spin.text())
            assert spin.lineEdit().width() >= text, (name, spin.text())
        for column in _visible(window, ColumnScroll):
            body = column.widget()
            assert body.width() >= body.minimumSizeHint().width(), name
            assert column.viewport().width() >= body.width(), name  # not cut at the right
