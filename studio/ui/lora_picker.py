"""A button that lists the LoRA files Studio finds and inserts `<lora:NAME:1>` at the cursor."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QPlainTextEdit, QToolButton, QWidget

from studio.core.lora import LORA_SUFFIX, format_tag, list_loras, lora_folders


class LoraPicker(QToolButton):
    """"LoRA ▾": a menu of LoRA names (read when opened); a pick inserts its tag."""

    def __init__(self, target: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.target = target
        self.model_path: Path | None = None  # its `loras/` folders are searched too
        self.setText("LoRA")
        self.setToolTip("Insert a <lora:NAME:1> tag at the cursor (LoRA files from "
                        "STUDIO_LORAS and the loras/ folders)")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setMenu(QMenu(self))
        self.menu().aboutToShow.connect(self.refresh)

    def names(self) -> list[str]:
        found = list_loras(lora_folders(self.model_path))
        return sorted((n for n, p in found.items() if p.suffix.lower() == LORA_SUFFIX),
                      key=str.lower)

    def refresh(self) -> None:
        menu = self.menu()
        menu.clear()
        names = self.names()
        for name in names:
            action = QAction(name, menu)
            action.triggered.connect(lambda _=False, n=name: self.insert(n))
            menu.addAction(action)
        if not names:
            empty = menu.addAction("No LoRA files found (put .safetensors in a loras/ folder)")
            empty.setEnabled(False)

    def insert(self, name: str) -> None:
        """Insert the tag at the prompt's cursor, spaced from the words around it."""
        cursor = self.target.textCursor()
        text = self.target.toPlainText()
        before = text[cursor.selectionStart() - 1:cursor.selectionStart()]
        after = text[cursor.selectionEnd():cursor.selectionEnd() + 1]
        tag = format_tag(name)
        tag = (" " if before and not before.isspace() else "") + tag
        tag += " " if after and not after.isspace() else ""
        cursor.insertText(tag)
        self.target.setTextCursor(cursor)
        self.target.setFocus()
