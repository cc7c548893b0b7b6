"""The prompt panel's LoRA picker: lists .safetensors LoRAs, inserts the tag at the cursor."""

from __future__ import annotations

from PySide6.QtGui import QTextCursor

from studio.ui.prompt_panel import PromptPanel


def test_picker_lists_loras_and_inserts_the_tag_at_the_cursor(qtbot, tmp_path, monkeypatch):
    folder = tmp_path / "loras"
    folder.mkdir()
    for name in ("ink.safetensors", "Bold.safetensors", "evil.pt", "notes.txt"):
        (folder / name).write_bytes(b"x")
    monkeypatch.setenv("STUDIO_LORAS", str(folder))
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "data"))
    panel = PromptPanel()
    qtbot.addWidget(panel)
    picker = panel.lora_picker
    picker.refresh()
    assert [a.text() for a in picker.menu().actions()] == ["Bold", "ink"]  # no pickles
    panel.prompt.setPlainText("a cat, watercolor")
    cursor = panel.prompt.textCursor()
    cursor.setPosition(len("a cat,"))
    panel.prompt.setTextCursor(cursor)
    picker.menu().actions()[1].trigger()
    assert panel.prompt.toPlainText() == "a cat, <lora:ink:1> watercolor"
    panel.prompt.moveCursor(QTextCursor.MoveOperation.End)
    picker.insert("Bold")
    assert panel.prompt.toPlainText() == "a cat, <lora:ink:1> watercolor <lora:Bold:1>"
    assert panel.snapshot("m", "m").prompt.endswith("<lora:Bold:1>")


def test_picker_says_when_there_are_none(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_LORAS", str(tmp_path / "empty"))
    monkeypatch.setenv("STUDIO_DATA", str(tmp_path / "data"))
    panel = PromptPanel()
    qtbot.addWidget(panel)
    panel.lora_picker.refresh()
    (only,) = panel.lora_picker.menu().actions()
    assert "No LoRA files" in only.text() and not only.isEnabled()
