"""The top-level window, shown before the studio inside it is built.

Importing numpy, PIL and the studio's widgets and building five tabs takes several times as
long as showing a window. The frame needs Qt only: it appears at once at the saved size and
position with a "Starting Studio…" note, and the main window is put inside it as soon as
the frame has painted (the composition root does that), so the user never waits on nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Signal
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

GEOMETRY_KEY = "window/geometry"
DEFAULT_SIZE = (1280, 820)


def saved_geometry(settings: QSettings) -> QByteArray | None:
    """The window geometry the last session saved (None when there is none or it is bad)."""
    value = settings.value(GEOMETRY_KEY)
    return value if isinstance(value, QByteArray) else None


class _StartingNote(QLabel):
    """The frame's placeholder; tells the frame when it has been painted once."""

    painted = Signal()

    def __init__(self) -> None:
        super().__init__("Starting Studio…")
        # Centred by the style sheet: the first use of PySide's `Qt` namespace builds ~100
        # Python enums (25 ms), which is left for after the first paint.
        self.setStyleSheet("color: #8a8d93; font-size: 15px; qproperty-alignment: AlignCenter;")
        self._told = False

    def paintEvent(self, event) -> None:  # noqa: N802, ANN001
        super().paintEvent(event)
        if not self._told:
            self._told = True
            self.painted.emit()


class WindowFrame(QMainWindow):
    """The application window: a note while starting, then the main window as its content.

    `first_painted` fires once, after the note is on screen. Closing the frame asks the
    content first (it may refuse, e.g. to keep a running job).
    """

    first_painted = Signal()

    def __init__(self, geometry: QByteArray | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Studio")
        self.content: QWidget | None = None
        self.note = _StartingNote()
        self.note.painted.connect(self.first_painted)
        self.setCentralWidget(self.note)
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)

    def set_content(self, content: QWidget) -> None:
        """Show `content` (a top-level widget not yet shown) inside the frame; a main
        window's menu bar becomes the frame's (the application's, native on macOS)."""
        from PySide6.QtCore import Qt

        if isinstance(content, QMainWindow) and content.menuWidget() is not None:
            self.setMenuBar(content.menuBar())  # built already: moved, not re-created
        content.setWindowFlags(Qt.WindowType.Widget)
        self.content = content
        self.setCentralWidget(content)  # the note is deleted
        content.show()

    def show_error(self, message: str) -> None:
        """The studio could not start: say why in the window instead of vanishing."""
        from PySide6.QtCore import Qt

        self.note.setText(f"Studio could not start.\n\n{message}")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def closeEvent(self, event) -> None:  # noqa: N802, ANN001
        if self.content is not None and not self.content.close():
            event.ignore()
            return
        event.accept()
