from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from studio.app import AppConfig, build_app
from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from studio.engine.context import EngineContext
from studio.engine.device import plan_device


@pytest.fixture
def studio_window(qtbot, tmp_path, tiny_model_dir):
    config = AppConfig(outputs_root=tmp_path / "out", embedded_models_dir=tmp_path / "none",
                       extra_model_dirs=[tiny_model_dir.parent])
    factory = lambda: EngineContext.create(plan_device("cpu"), max_preview_fps=0)  # noqa: E731
    window, worker = build_app(config, factory)
    window.confirm_close = False
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    yield window
    assert worker.shutdown(timeout=30)


def _set_small(window, steps=4):
    panel = window.panel
    panel.steps.setValue(steps)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    panel.scheduler.setCurrentText("DDIM")
    panel.seed.setValue(1234)


def test_typing_prompt_and_clicking_generate_streams_previews_then_saves(qtbot, studio_window):
    window = studio_window
    assert window.selected_model() is not None and window.selected_model().name == "tiny-sd"
    _set_small(window)
    qtbot.keyClicks(window.panel.prompt, "a small red cube")
    signals = window.property("engine_signals")
    previews = []
    signals.preview.connect(lambda job, step, total, img: previews.append((step, total)))
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    assert previews == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert window.gallery.count() == 1
    result = window.gallery.results[0]
    assert result.path.is_file()
    params = parse_infotext(read_parameters(result.path))
    assert params["Prompt"] == "a small red cube" and params["Seed"] == "1234"
    assert window.canvas.image.size().width() == 64 and not window.canvas.is_preview
    assert "Done" in window.progress_label.text()
    shown = window.canvas.image.convertToFormat(QImage.Format.Format_RGB888)
    assert shown.pixelColor(10, 10).red() == np.asarray(result.image)[10, 10, 0]


def test_upscale_cascade_shows_the_enlarged_copy_after_the_image(qtbot, studio_window):
    window = studio_window
    _set_small(window)
    window.panel.upscale.setCurrentIndex(window.panel.upscale.findData(2))
    signals = window.property("engine_signals")
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    assert window.gallery.count() == 2
    base, big = window.gallery.results
    assert (base.upscaled_by, big.upscaled_by) == (1, 2)
    assert big.path.is_file() and big.image.size == (128, 128)
    assert window.canvas.image.size().width() == 128  # the last result shown is the big one
    assert "Done" in window.progress_label.text()


def test_hires_fix_streams_both_passes_and_shows_the_large_image(qtbot, studio_window):
    window = studio_window
    _set_small(window)
    panel = window.panel
    panel.hires.setCurrentIndex(panel.hires.findData(2.0))
    panel.hires_strength.setValue(0.5)
    signals = window.property("engine_signals")
    progress: list[tuple[int, int, int]] = []
    signals.preview.connect(lambda job, step, total, img: progress.append(
        (step, total, window.canvas.image.size().width())))
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    # one count over both passes (4 + int(4 × 0.5)); previews stretched to the final size
    assert [p[:2] for p in progress] == [(k, 6) for k in range(1, 7)]
    assert {p[2] for p in progress} == {128}
    assert window.gallery.count() == 1 and window.gallery.results[0].image.size == (128, 128)
    assert window.canvas.image.size().width() == 128 and not window.canvas.is_preview
    assert window.progress.value() == 100 and "Done" in window.progress_label.text()
    params = parse_infotext(read_parameters(window.gallery.results[0].path))
    assert params["Size"] == "64x64" and params["Hires upscale"] == "2"


def test_ctrl_enter_generates_and_escape_cancels(qtbot, studio_window):
    window = studio_window
    _set_small(window, steps=200)
    signals = window.property("engine_signals")
    window.panel.prompt.setFocus()
    with qtbot.waitSignal(signals.preview, timeout=60_000):
        QTest.keyClick(window.panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.panel.prompt.toPlainText() == ""  # the shortcut did not type a newline
    with qtbot.waitSignal(signals.cancelled, timeout=60_000):
        QTest.keyClick(window, Qt.Key.Key_Escape)
    assert window.gallery.count() == 0
    assert window.progress_label.text() == "Cancelled"
    assert not window.panel.cancel_button.isEnabled()


def test_invalid_settings_show_an_error_not_a_job(qtbot, studio_window, monkeypatch):
    window = studio_window
    _set_small(window)
    window.panel.width_box.setValue(68)  # not a multiple of 8 once typed past the step
    window.panel.width_box.setValue(70)
    assert window.generate() is None
    assert "multiple of 8" in window.notice.text


def test_failure_shows_message_and_window_keeps_working(qtbot, studio_window, tmp_path):
    window = studio_window
    _set_small(window, steps=2)
    signals = window.property("engine_signals")
    broken = tmp_path / "models" / "broken"
    broken.mkdir(parents=True)
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    window.registry.extra_dirs.append(tmp_path / "models")
    window.refresh_models()
    window.model_picker.setCurrentIndex(window.model_picker.findText("broken"))
    with qtbot.waitSignal(signals.failed, timeout=60_000):
        window.generate()
    assert "broken" in window.notice.text
    window.model_picker.setCurrentIndex(window.model_picker.findText("tiny-sd"))
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        window.generate()
    assert window.gallery.count() == 1


def test_no_models_says_where_it_looked(qtbot, tmp_path):
    config = AppConfig(outputs_root=tmp_path / "out", embedded_models_dir=tmp_path / "empty")
    window, worker = build_app(config, lambda: None)
    qtbot.addWidget(window)
    window.show()
    assert not window.model_picker.isEnabled()
    assert str(tmp_path / "empty") in window.notice.text
    assert window.generate() is None
    worker.shutdown()


def test_canvas_zoom_keeps_point_under_cursor_and_fit_restores(qtbot, studio_window):
    canvas = studio_window.canvas
    image = QImage(200, 100, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.red)
    canvas.set_image(image)
    anchor = QPointF(canvas.width() / 2 + 30, canvas.height() / 2 + 10)
    before = canvas.widget_to_image(anchor)
    fit_zoom = canvas.zoom
    canvas.zoom_by(2.0, anchor)
    after = canvas.widget_to_image(anchor)
    assert canvas.zoom == pytest.approx(fit_zoom * 2)
    assert after.x() == pytest.approx(before.x()) and after.y() == pytest.approx(before.y())
    QTest.mouseDClick(canvas, Qt.MouseButton.LeftButton)
    assert canvas.zoom == pytest.approx(fit_zoom)


def test_settings_survive_a_restart(qtbot, tmp_path, tiny_model_dir):
    from PySide6.QtCore import QSettings

    from studio.ui.settings import StudioSettings

    ini = str(tmp_path / "studio.ini")
    config = AppConfig(outputs_root=tmp_path / "out", embedded_models_dir=tmp_path / "none")

    def open_window():
        settings = StudioSettings(QSettings(ini, QSettings.Format.IniFormat))
        window, worker = build_app(config, lambda: None, settings)
        qtbot.addWidget(window)
        return window, worker

    window, worker = open_window()
    assert window.selected_model() is None
    window.registry.extra_dirs.append(tiny_model_dir.parent)
    window.refresh_models()
    window.panel.prompt.setPlainText("a lighthouse at dusk")
    window.panel.steps.setValue(33)
    window.panel.scheduler.setCurrentText("DPM++ 2M")
    window.panel.upscale.setCurrentIndex(window.panel.upscale.findData(4))
    window.panel.hires.setCurrentIndex(window.panel.hires.findData(1.5))
    window.panel.hires_strength.setValue(0.3)
    window.edit_panel.mask_blur.setValue(12)
    window.edit_panel.area.setCurrentText("Whole picture")
    upscale = window.upscale.panel
    upscale.scale.setCurrentIndex(upscale.scale.findData(2))
    upscale.tile.setValue(256)
    upscale.prompt.setText("a harbour")
    window.close()
    worker.shutdown()
    window, worker = open_window()
    assert window.selected_model().name == "tiny-sd"
    values = window.panel.values()
    assert (values.prompt, values.steps, values.scheduler) == ("a lighthouse at dusk", 33,
                                                               "DPM++ 2M")
    assert values.upscale_by == 4
    assert (values.hires_scale, values.hires_strength) == (1.5, 0.3)
    assert window.panel.snapshot(str(tiny_model_dir), "tiny").upscale_by == 4
    edit, upscale = window.edit_panel, window.upscale.panel
    assert (edit.mask_blur.value(), edit.area.currentText()) == (12, "Whole picture")
    assert (upscale.scale.currentData(), upscale.tile.value(), upscale.prompt.text()) == (
        2, 256, "a harbour")
    window.reset_settings()
    assert window.panel.values().steps == 25
    assert (edit.mask_blur.value(), upscale.scale.currentData(), upscale.tile.value()) == (4, 4, 0)
    worker.shutdown()
