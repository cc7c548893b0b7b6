"""The History dock: every saved image (this and earlier sessions), searchable by prompt."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.history import History, HistoryEntry, mask_of
from studio.core.infotext import parse_infotext
from studio.core.prompts import short_prompt

_ROLE_ID = Qt.ItemDataRole.UserRole
_THUMB = 112


class HistoryPanel(QWidget):
    """Search box, thumbnail grid and actions; the controller reacts to the signals."""

    entry_activated = Signal(object)  # HistoryEntry: show it on the canvas
    rerun_requested = Signal(object)  # HistoryEntry
    restore_requested = Signal(object)  # HistoryEntry: its parameters into the prompt panel
    source_requested = Signal(object)  # HistoryEntry: use as edit source
    source_with_mask_requested = Signal(object)  # HistoryEntry: as source, its mask painted
    save_as_requested = Signal(object)  # HistoryEntry
    open_folder_requested = Signal(object)  # HistoryEntry
    copy_requested = Signal(object)  # HistoryEntry
    changed = Signal(str)  # status text after delete/undo

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: History | None = None
        self.entries: dict[int, HistoryEntry] = {}
        self.names: dict[str, str] = {}  # model caption -> the short name that expands to it
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search prompts…")
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self, singleShot=True, interval=200)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _: self._debounce.start())
        self.grid = self._make_grid()
        self.status = QLabel()
        self.status.setObjectName("historyStatus")
        self.status.setWordWrap(True)
        self._build_layout()

    def _make_grid(self) -> QListWidget:
        grid = QListWidget()
        grid.setViewMode(QListView.ViewMode.IconMode)
        grid.setResizeMode(QListView.ResizeMode.Adjust)
        grid.setMovement(QListView.Movement.Static)
        grid.setIconSize(QSize(_THUMB, _THUMB))
        grid.setGridSize(QSize(_THUMB + 14, _THUMB + 34))
        grid.setWordWrap(False)
        grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        grid.setUniformItemSizes(True)
        grid.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        grid.customContextMenuRequested.connect(self._context_menu)
        grid.itemClicked.connect(lambda item: self._emit(self.entry_activated, item))
        grid.itemDoubleClicked.connect(lambda item: self._emit(self.restore_requested, item))
        grid.installEventFilter(self)  # the Delete key deletes the selected image
        return grid

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if (watched is self.grid and event.type() == QEvent.Type.KeyPress
                and event.key() == Qt.Key.Key_Delete):  # type: ignore[attr-defined]
            self.delete_selected()
            return True
        return super().eventFilter(watched, event)

    def _build_layout(self) -> None:
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setToolTip("Generate again with this image's parameters")
        self.source_button = QPushButton("Use as source")
        self.source_button.setToolTip("Open this image in the Edit tab")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Move the image to the outputs folder's .trash")
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Bring back the last deleted image")
        self.rerun_button.clicked.connect(lambda: self._emit(self.rerun_requested))
        self.source_button.clicked.connect(lambda: self._emit(self.source_requested))
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button.clicked.connect(self.undo_delete)
        buttons = QHBoxLayout()
        for button in (self.rerun_button, self.source_button, self.delete_button,
                       self.undo_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.grid, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._update_buttons()

    # ----- data -----------------------------------------------------------------------------
    def set_expansions(self, expansions: Mapping[str, str]) -> None:
        """The current model's prompt expansions: labels show the short names users type."""
        names: dict[str, str] = {}
        for name, caption in expansions.items():
            names.setdefault(" ".join(caption.split()), name)
        if names != self.names:
            self.names = names
            for row in range(self.grid.count()):
                item = self.grid.item(row)
                entry = self.entries.get(int(item.data(_ROLE_ID)))
                if entry is not None:
                    item.setText(_label(entry, self.names))

    def set_history(self, history: History | None, message: str = "") -> None:
        self.history = history
        self.refresh()
        if message:
            self.status.setText(message)

    def refresh(self) -> None:
        """Re-run the search and rebuild the grid (newest first)."""
        self.grid.clear()
        self.entries = {}
        if self.history is None:
            self.status.setText("History unavailable")
            self._update_buttons()
            return
        for entry in self.history.search(self.search.text().strip()):
            self.entries[entry.id] = entry
            self.grid.addItem(_item(entry, self.names))
        self._show_count()
        self._update_buttons()

    def _show_count(self) -> None:
        shown = len(self.entries)
        if shown == 0:
            self.status.setText("No matches" if self.search.text().strip() else
                                "No images yet: every image you generate is kept here")
        else:
            self.status.setText(f"{shown} image{'s' if shown != 1 else ''}")

    def add_entry(self, entry: HistoryEntry) -> None:
        """Show a new image at the front (if it matches the search) without a full refresh."""
        if entry.id in self.entries or self.search.text().strip().lower() not in \
                entry.prompt.lower():
            return
        self.entries[entry.id] = entry
        self.grid.insertItem(0, _item(entry, self.names))
        self._show_count()
        self._update_buttons()

    def selected(self) -> HistoryEntry | None:
        item = self.grid.currentItem()
        return self.entries.get(int(item.data(_ROLE_ID))) if item is not None else None

    def select(self, entry_id: int) -> None:
        for row in range(self.grid.count()):
            if self.grid.item(row).data(_ROLE_ID) == entry_id:
                self.grid.setCurrentRow(row)
                return

    def delete_selected(self) -> None:
        entry = self.selected()
        if entry is None or self.history is None:
            return
        try:
            self.history.delete(entry.id)
        except OSError as exc:
            self.changed.emit(f"Could not delete {entry.path.name}: {exc}")
            return
        self.refresh()
        self.changed.emit(f"Moved {entry.path.name} to the trash")

    def undo_delete(self) -> None:
        if self.history is None:
            return
        entry = self.history.undo_delete()
        self.refresh()
        if entry is not None:
            self.select(entry.id)
            self.changed.emit(f"Restored {entry.path.name}")

    def _update_buttons(self) -> None:
        has = self.grid.count() > 0
        for button in (self.rerun_button, self.source_button, self.delete_button):
            button.setEnabled(has)
        self.undo_button.setEnabled(self.history is not None and self.history.can_undo)

    def _emit(self, signal: Signal, item: QListWidgetItem | None = None) -> None:
        if item is not None:
            self.grid.setCurrentItem(item)
        entry = self.selected()
        if entry is not None:
            signal.emit(entry)

    def _context_menu(self, pos) -> None:  # noqa: ANN001
        item = self.grid.itemAt(pos)
        if item is None:
            return
        self.grid.setCurrentItem(item)
        menu = QMenu(self)
        for label, signal in (("Re-run", self.rerun_requested),
                              ("Restore parameters", self.restore_requested),
                              ("Use as source", self.source_requested),
                              ("Save as…", self.save_as_requested),
                              ("Open containing folder", self.open_folder_requested),
                              ("Copy parameters", self.copy_requested)):
            menu.addAction(label, lambda s=signal: self._emit(s))
        entry = self.selected()
        if entry is not None and mask_of(entry.path).is_file():
            menu.addAction("Use as source with its mask",
                           lambda: self._emit(self.source_with_mask_requested))
        menu.addSeparator()
        menu.addAction("Delete", self.delete_selected)
        menu.exec(self.grid.viewport().mapToGlobal(pos))


def _label(entry: HistoryEntry, names: Mapping[str, str]) -> str:
    """The short prompt, plus "×4" on an upscaled copy (it would look like its source)."""
    factor = parse_infotext(entry.infotext).get("Postprocess upscale by") if entry.infotext \
        else None
    return short_prompt(entry.prompt, names) + (f" ×{factor}" if factor else "")


def _thumbnail(data: bytes) -> QPixmap:
    """The stored thumbnail fitted into a square of one size, so every cell lines up."""
    source = QPixmap()
    source.loadFromData(data)
    square = QPixmap(_THUMB, _THUMB)
    square.fill(Qt.GlobalColor.transparent)
    if source.isNull():
        return square
    scaled = source.scaled(_THUMB, _THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
    painter = QPainter(square)
    painter.drawPixmap((_THUMB - scaled.width()) // 2, (_THUMB - scaled.height()) // 2, scaled)
    painter.end()
    return square


def _item(entry: HistoryEntry, names: Mapping[str, str]) -> QListWidgetItem:
    prompt = " ".join(entry.prompt.split()) or "(no prompt)"
    item = QListWidgetItem(QIcon(_thumbnail(entry.thumb)), _label(entry, names))
    item.setData(_ROLE_ID, entry.id)
    item.setToolTip(f"{entry.path.name}\n{entry.infotext or prompt}")
    item.setSizeHint(QSize(_THUMB + 10, _THUMB + 30))
    return item


__all__ = ["HistoryPanel", "short_prompt"]
