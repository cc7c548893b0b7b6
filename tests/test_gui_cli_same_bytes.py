"""The same request gives the same PNG bytes (pixels and parameters) from the GUI and the CLI."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.cli import main
from tests.test_ui import _set_small, studio_window  # noqa: F401 - the fixture


def test_gui_and_cli_write_byte_identical_pngs(qtbot, studio_window, tiny_model_dir,  # noqa: F811
                                               tmp_path) -> None:
    window = studio_window
    _set_small(window)  # DDIM, 4 steps, 64x64, seed 1234
    window.panel.guidance.setValue(5.0)
    qtbot.keyClicks(window.panel.prompt, "a small red cube")
    qtbot.keyClicks(window.panel.negative, "blurry")
    signals = window.property("engine_signals")
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    gui_png = window.gallery.results[0].path.read_bytes()
    out = tmp_path / "cli.png"
    assert main(["generate", "--prompt", "a small red cube", "--negative", "blurry",
                 "--steps", "4", "--guidance", "5", "--scheduler", "DDIM", "--seed", "1234",
                 "--width", "64", "--height", "64", "--model", str(tiny_model_dir),
                 "--output", str(out)]) == 0
    assert out.read_bytes() == gui_png
