"""Every button of every tab, pressed by a new user with nothing filled in: each one works or
says what it needs, and none raises (pytest-qt fails a test on an exception in a slot)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMessageBox,
    QPushButton,
)

from tests.test_gui_fake_backend import fake_gui  # noqa: F401 - fixture reuse
from tests.test_ui import studio_window  # noqa: F401 - fixture reuse


@pytest.fixture
def no_dialogs(monkeypatch):
    """Dialogs answer at once as if cancelled (a modal dialog would wait for ever)."""
    opened: list[str] = []

    def cancelled(name, value):  # noqa: ANN001, ANN202
        def answer(*_args, **_kwargs):  # noqa: ANN202
            opened.append(name)
            return value
        return answer

    for name in ("getOpenFileName", "getSaveFileName", "getOpenFileNames"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(cancelled(name, ("", ""))))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(cancelled("getExistingDirectory", "")))
    for name in ("question", "warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            cancelled(name, QMessageBox.StandardButton.No)))
    monkeypatch.setattr(QMessageBox, "exec", cancelled("QMessageBox.exec", 0))
    monkeypatch.setattr(QDialog, "exec", cancelled("QDialog.exec", 0))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(cancelled("getText", ("", False))))
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(cancelled("openUrl", True)))
    return opened


def _buttons(widget) -> list[QPushButton]:  # noqa: ANN001
    return [b for b in widget.findChildren(QPushButton) if b.isVisibleTo(widget)]


def _press_everything(qtbot, window) -> int:  # noqa: ANN001
    """Click every enabled, visible button of each tab, then of each dock; the count."""
    pressed = 0
    pages = [window.tabs.widget(i) for i in range(window.tabs.count())]
    for index, page in enumerate(pages):
        window.tabs.setCurrentIndex(index)
        for button in _buttons(page):
            if button.isEnabled():
                button.click()
                qtbot.wait(5)
                pressed += 1
    for dock in window.findChildren(QDockWidget):
        for button in _buttons(dock):
            if button.isEnabled():
                button.click()
                qtbot.wait(5)
                pressed += 1
    return pressed


def test_every_button_answers_without_raising_on_a_fake_engine(qtbot, fake_gui,  # noqa: F811
                                                               no_dialogs):
    window, _backend = fake_gui
    assert _press_everything(qtbot, window) >= 20  # the tabs really have their buttons
    assert window.isVisible() and "getExistingDirectory" in no_dialogs


def test_every_button_answers_without_raising_in_the_whole_app(qtbot, studio_window,  # noqa: F811
                                                               no_dialogs):
    window = studio_window
    assert _press_everything(qtbot, window) >= 20
    signals = window.property("engine_signals")
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=60_000)  # a Generate click ran
    assert window.isVisible() and signals is not None


def test_every_menu_action_answers_without_raising(qtbot, studio_window,  # noqa: F811
                                                    no_dialogs):
    window = studio_window
    triggered = []
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        for action in menu.actions() if menu is not None else []:
            if action.isSeparator() or not action.isEnabled() or action.text() == "Quit":
                continue
            action.trigger()
            qtbot.wait(5)
            triggered.append(action.text())
    assert len(triggered) >= 6 and window.isVisible()
    assert "openUrl" in no_dialogs  # Open outputs folder asked the desktop, nothing else ran
