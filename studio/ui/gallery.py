"""The gallery strip: this session's results as thumbnails, newest first."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

_ROLE_INDEX = Qt.ItemDataRole.UserRole


class GalleryStrip(QListWidget):
    """Horizontal thumbnails; selecting one emits `result_selected(index into results)`."""

    result_selected = Signal(int)

    def __init__(self, thumb: int = 96, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb = thumb
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(thumb, thumb))
        self.setFixedHeight(thumb + 30)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSpacing(4)
        self.results: list[object] = []
        self.currentRowChanged.connect(self._on_row)

    def add_result(self, result: object, image: QImage, tooltip: str) -> None:
        """Add a result at the front and select it."""
        self.results.append(result)
        pixmap = QPixmap.fromImage(image).scaled(
            self.thumb, self.thumb, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        item = QListWidgetItem(QIcon(pixmap), "")
        item.setData(_ROLE_INDEX, len(self.results) - 1)
        item.setToolTip(tooltip)
        self.blockSignals(True)
        self.insertItem(0, item)
        self.setCurrentRow(0)
        self.blockSignals(False)

    def selected_index(self) -> int | None:
        item = self.currentItem()
        return int(item.data(_ROLE_INDEX)) if item is not None else None

    def selected_result(self) -> object | None:
        index = self.selected_index()
        return self.results[index] if index is not None else None

    def _on_row(self, row: int) -> None:
        item = self.item(row)
        if item is not None:
            self.result_selected.emit(int(item.data(_ROLE_INDEX)))
