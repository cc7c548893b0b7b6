"""Layout helpers that keep the side panels usable on small screens (1024×640 and up)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QScrollArea, QTextEdit, QVBoxLayout, QWidget


class ColumnScroll(QScrollArea):
    """A vertical scroll area that is never narrower than its content (nothing clipped)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        body = self.widget()
        hint = super().minimumSizeHint()
        if body is None:
            return hint
        width = (body.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
                 + 2 * self.frameWidth())
        return QSize(width, hint.height())


def scrolled_column(owner: QWidget) -> tuple[QVBoxLayout, QVBoxLayout]:
    """Give `owner` a scrolling column: returns (the layout inside the scroll area, the
    outer layout under it for widgets that must stay visible, such as a Run button)."""
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 6)
    scroll = ColumnScroll()
    body = QWidget()
    scroll.setWidget(body)
    outer.addWidget(scroll, 1)
    return QVBoxLayout(body), outer


def text_lines_height(edit: QPlainTextEdit | QTextEdit, lines: float) -> int:
    """The height a text box needs to show `lines` lines of its font."""
    margins = edit.contentsMargins()
    document_margin = edit.document().documentMargin()
    return round(edit.fontMetrics().lineSpacing() * lines + 2 * document_margin
                 + margins.top() + margins.bottom())


def set_text_lines(edit: QPlainTextEdit | QTextEdit, minimum: float,
                   maximum: float | None = None) -> None:
    """Keep a text box between `minimum` and `maximum` lines tall."""
    edit.setMinimumHeight(text_lines_height(edit, minimum))
    if maximum is not None:
        edit.setMaximumHeight(text_lines_height(edit, maximum))
