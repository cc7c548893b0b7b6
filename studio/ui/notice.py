"""An inline, dismissable message bar (errors never block the window with a modal dialog)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

_STYLES = {
    "error": "background:#5a1e1e; color:#ffd9d9; border:1px solid #a33;",
    "warning": "background:#5a4a1e; color:#fff2cc; border:1px solid #a83;",
    "info": "background:#1e3a5a; color:#d9ecff; border:1px solid #36a;",
}


class NoticeBar(QFrame):
    """Shows one message with a severity colour and a close button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(self.label.textInteractionFlags())
        close = QToolButton(text="✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        self._actions = QHBoxLayout()
        layout.addLayout(self._actions)
        layout.addWidget(close)
        self.severity = ""
        self.action_buttons: list[QPushButton] = []
        self.hide()

    def show_message(self, text: str, severity: str = "error",
                     actions: Sequence[tuple[str, Callable[[], object]]] = ()) -> None:
        """Show `text`; each (label, callback) in `actions` becomes a button that also closes."""
        self.severity = severity
        self.setStyleSheet(f"NoticeBar {{ {_STYLES[severity]} border-radius:4px; }}")
        self.label.setText(text)
        for button in self.action_buttons:
            button.deleteLater()
        self.action_buttons = []
        for label, callback in actions:
            button = QPushButton(label)
            button.clicked.connect(self.hide)
            button.clicked.connect(lambda _=False, c=callback: c())
            self._actions.addWidget(button)
            self.action_buttons.append(button)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
