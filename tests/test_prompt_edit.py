from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.ui.prompt_edit import PromptEdit


def _shown(qtbot) -> PromptEdit:
    edit = PromptEdit()
    qtbot.addWidget(edit)
    edit.show()
    edit.activateWindow()
    qtbot.waitUntil(edit.isActiveWindow)
    edit.setFocus()
    edit.set_names(["red apple", "green apple", "grinning face", "red apple"])
    return edit


def _suggested(edit: PromptEdit) -> list[str]:
    model = edit.completer.completionModel()
    return sorted(model.data(model.index(i, 0)) for i in range(model.rowCount()))


def test_typing_part_of_a_name_suggests_it_and_enter_chooses(qtbot) -> None:
    edit = _shown(qtbot)
    qtbot.keyClicks(edit, "appl")
    popup = edit.completer.popup()
    qtbot.waitUntil(popup.isVisible)
    assert _suggested(edit) == ["green apple", "red apple"]
    QTest.keyClick(popup, Qt.Key.Key_Down)
    QTest.keyClick(popup, Qt.Key.Key_Return)
    assert edit.toPlainText() in ("green apple", "red apple")
    assert not popup.isVisible()
    assert "\n" not in edit.toPlainText()  # Enter chose; it did not type a newline


def test_no_suggestions_after_a_comma_or_for_unknown_words(qtbot) -> None:
    edit = _shown(qtbot)
    qtbot.keyClicks(edit, "red apple, gl")
    assert not edit.completer.popup().isVisible()
    edit.clear()
    qtbot.keyClicks(edit, "zebra")
    assert not edit.completer.popup().isVisible()
    QTest.keyClick(edit, Qt.Key.Key_Return)
    assert edit.toPlainText() == "zebra\n"  # without a popup Enter is a newline as usual


def test_choosing_a_name_that_longer_names_contain_closes_the_popup(qtbot) -> None:
    edit = _shown(qtbot)
    edit.set_names(["cat", "cat face"])
    qtbot.keyClicks(edit, "ca")
    popup = edit.completer.popup()
    qtbot.waitUntil(popup.isVisible)
    QTest.keyClick(popup, Qt.Key.Key_Down)  # "cat", the first of the two
    QTest.keyClick(popup, Qt.Key.Key_Return)
    assert edit.toPlainText() == "cat"
    assert not popup.isVisible()
