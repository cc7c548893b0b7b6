"""The prompt box: a plain text editor that suggests the model's known names as you type."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import QCompleter, QPlainTextEdit, QWidget

_POPUP_KEYS = (Qt.Key.Key_Enter, Qt.Key.Key_Return, Qt.Key.Key_Escape, Qt.Key.Key_Tab,
               Qt.Key.Key_Backtab)


class PromptEdit(QPlainTextEdit):
    """Suggests names (e.g. the built-in model's emoji names) that contain what was typed.

    Suggestions only appear while the whole prompt is a short phrase (no comma yet);
    choosing one (Enter, Tab or a click) replaces the prompt with it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names = QStringListModel(self)
        self.completer = QCompleter(self.names, self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setMaxVisibleItems(10)
        self.completer.activated.connect(self.choose)
        self.textChanged.connect(self._suggest)

    def set_names(self, names: list[str]) -> None:
        self.names.setStringList(sorted(set(names)))
        self.completer.popup().hide()

    def choose(self, name: str) -> None:
        self.setPlainText(name)
        self.moveCursor(QTextCursor.MoveOperation.End)
        self.completer.popup().hide()  # final, even when longer names contain it

    def _suggest(self) -> None:
        text = " ".join(self.toPlainText().split())
        popup = self.completer.popup()
        if len(text) < 2 or "," in text or not self.hasFocus() or not self.names.rowCount():
            popup.hide()
            return
        self.completer.setCompletionPrefix(text)
        count = self.completer.completionCount()
        exact = count == 1 and self.completer.currentCompletion().lower() == text.lower()
        if count == 0 or exact:
            popup.hide()
            return
        rect = self.cursorRect()
        rect.setWidth(max(240, popup.sizeHintForColumn(0) + 24))
        self.completer.complete(rect)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if self.completer.popup().isVisible() and event.key() in _POPUP_KEYS:
            event.ignore()  # the completer takes these (choose / close)
            return
        super().keyPressEvent(event)
