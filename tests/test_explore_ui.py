"""The Explore tab driven with qtbot: forward slider, recorded steps, export, training step."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from studio.core.noise_schedule import NoiseSchedule, forward_image
from studio.ui.qimages import qimage_from_array
from tests.test_ui import _set_small, studio_window  # noqa: F401 - the fixture


def _show_image(window) -> np.ndarray:
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[:, :32] = (220, 40, 40)
    pixels[:, 32:] = (40, 60, 220)
    window.canvas.set_image(qimage_from_array(pixels))
    return pixels


def test_forward_slider_shows_the_closed_form(qtbot, studio_window):  # noqa: F811
    window = studio_window
    panel = window.explore.panel
    pixels = _show_image(window)
    window.tabs.setCurrentWidget(panel)
    assert window.explore.source is not None
    panel.noise_seed.setValue(5)
    panel.t_slider.setValue(600)
    schedule = NoiseSchedule.from_model(window.selected_model().path)
    expected = forward_image(pixels, schedule, 600, seed=5)
    assert np.array_equal(panel.forward_noisy.array, expected)
    assert panel.plot.marker == 600 and len(panel.plot.series) == 2
    assert "t = 600" in panel.forward_label.text()
    panel.t_slider.setValue(0)
    assert np.abs(panel.forward_noisy.array.astype(int) - pixels).mean() < 4


def test_record_scrub_export_and_training_step(qtbot, studio_window, tmp_path):  # noqa: F811
    window = studio_window
    panel = window.explore.panel
    _set_small(window, steps=3)
    window.tabs.setCurrentWidget(panel)
    signals = window.property("engine_signals")
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.explore.frames) == 3, timeout=10_000)
    assert panel.step_slider.maximum() == 2 and panel.export_png.isEnabled()
    panel.step_slider.setValue(0)
    assert "Step 1 of 3" in panel.step_label.text()
    assert np.array_equal(panel.step_tiles[2].array, window.explore.frames[0].x0)
    strip = window.explore.export_to(tmp_path / "steps.png")
    with Image.open(strip) as image:
        assert image.height > 3 * 100
    anim = window.explore.export_to(tmp_path / "steps.gif")
    with Image.open(anim) as image:
        assert image.n_frames == 3
    window.explore.take_canvas_image()  # the generated image
    panel.train_t.setValue(400)
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.explore.noise_result is not None, timeout=10_000)
    result = window.explore.noise_result
    assert result.timestep == 400 and "MSE" in panel.train_label.text()
    assert panel.train_tiles[1].array is not None


def test_latent_forward_view_decodes_the_noised_latent(qtbot, studio_window):  # noqa: F811
    window = studio_window
    panel = window.explore.panel
    _show_image(window)
    window.tabs.setCurrentWidget(panel)
    panel.t_slider.setValue(999)
    signals = window.property("engine_signals")
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        qtbot.mouseClick(panel.latent_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.forward_latent.array is not None, timeout=10_000)
    assert panel.forward_latent.array.shape == (64, 64, 3)
    assert "t=999" in panel.forward_latent.caption.text()
    assert window.explore.noise_result is None  # the training-step box is untouched


def test_plot_ticks_and_drawing(qtbot):
    from studio.ui.plot import LinePlot, Series, nice_ticks

    assert nice_ticks(0, 999) == [0, 250, 500, 750]
    assert nice_ticks(-5.0, 5.0) == [-5, -2.5, 0, 2.5, 5]
    plot = LinePlot("timestep t", "ᾱ_t", "log SNR")
    qtbot.addWidget(plot)
    plot.resize(320, 180)
    empty = plot.grab().toImage()
    xs = np.arange(100)
    plot.set_series([Series("a", xs, xs / 100.0, "#5b8def"),
                     Series("b", xs, -xs / 10.0, "#e0707a", right_axis=True)])
    plot.set_marker(40, "t = 40")
    drawn = plot.grab().toImage()
    assert drawn != empty and plot.marker == 40
