"""The model picker: the registry's models in a combo box, with the selected entry typed."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox

from studio.core.models import ModelEntry, ModelRegistry


class ModelPicker(QComboBox):
    """Lists `registry.entries()`; `model_changed(entry)` fires when the choice changes."""

    model_changed = Signal(object)  # ModelEntry

    def __init__(self, registry: ModelRegistry) -> None:
        super().__init__()
        self.registry = registry
        self.setMinimumWidth(220)
        self.currentIndexChanged.connect(self._changed)

    def refresh(self) -> bool:
        """Re-list the models, keeping the current choice; False when there are none."""
        current = self.selected()
        self.blockSignals(True)
        self.clear()
        for entry in self.registry.entries():
            self.addItem(entry.label, entry)
        self.blockSignals(False)
        if self.count() == 0:
            self.addItem("(no models found)")
            self.setEnabled(False)
            return False
        self.setEnabled(True)
        index = self.findText(current.label) if current else 0
        self.blockSignals(True)
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)
        self._changed()
        return True

    def selected(self) -> ModelEntry | None:
        entry = self.currentData()
        return entry if isinstance(entry, ModelEntry) else None

    def select_name(self, name: str) -> bool:
        """Select the model called `name` (its name or its label); False if not listed."""
        for row in range(self.count()):
            entry = self.itemData(row)
            if getattr(entry, "name", None) == name or self.itemText(row) == name:
                self.setCurrentIndex(row)
                return True
        return False

    def _changed(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.model_changed.emit(entry)
