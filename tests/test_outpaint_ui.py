"""The Edit tab's Extend: fields → an outpaint job; the result becomes the source."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.core.inpaint import feather
from studio.core.outputs import read_parameters
from studio.core.previews import RegionPreview
from tests.test_ui import studio_window  # noqa: F401 - fixture reuse


def _extend(qtbot, window, **sides):
    box = window.edit_panel.outpaint
    for side in ("left", "right", "top", "bottom"):
        box.side_boxes[side].setValue(sides.get(side, 0))
    signals = window.property("engine_signals")
    with qtbot.waitSignal(signals.finished, timeout=90_000):
        QTest.mouseClick(box.extend_button, Qt.MouseButton.LeftButton)
    return window.gallery.results[-1]


def test_extend_grows_the_source_and_keeps_old_pixels(qtbot, studio_window):  # noqa: F811
    window = studio_window
    rng = np.random.default_rng(3)
    source = rng.integers(0, 256, (64, 64, 3), np.uint8)
    window.edit.set_source(Image.fromarray(source), "noise")
    window.panel.steps.setValue(2)
    window.edit_panel.work_resolution.setValue(64)
    window.edit_panel.strength.setValue(1.0)
    window.edit_panel.outpaint.fill.setCurrentIndex(1)  # mirror
    previews = []
    window.property("engine_signals").preview.connect(
        lambda job, step, total, image: previews.append(image))
    result = _extend(qtbot, window, right=64)
    out = np.asarray(result.image)
    assert out.shape == (64, 128, 3)
    mask = np.asarray(Image.open(result.path.with_suffix(".mask.png")))
    keep = feather(mask, window.edit_panel.mask_blur.value()) == 0
    assert keep[:, :32].all() and np.array_equal(out[keep], source[keep[:, :64]])
    assert "Outpaint: \"left 0, right 64, top 0, bottom 0, fill mirror\"" in \
        read_parameters(result.path)
    assert previews and isinstance(previews[-1], RegionPreview)
    assert np.array_equal(np.asarray(window.edit.source), out)  # the new source
    assert "128×64" in window.edit_panel.source_label.text()
    assert (window.canvas.mask.width, window.canvas.mask.height) == (128, 64)
    again = _extend(qtbot, window, top=32)  # repeatable: extends the result
    assert again.image.size == (128, 96)
    assert np.array_equal(np.asarray(again.image)[80:, :32], out[48:, :32])


def test_extend_with_no_side_explains(studio_window):  # noqa: F811
    window = studio_window
    window.edit.set_source(Image.new("RGB", (64, 64), "red"), "red")
    submitted = []
    window.edit.runner.submit = submitted.append
    QTest.mouseClick(window.edit_panel.outpaint.extend_button, Qt.MouseButton.LeftButton)
    assert submitted == []
    assert "at least one side" in window.notice.label.text()


def test_the_model_fill_asks_for_a_file_and_sends_it(studio_window):  # noqa: F811
    from studio.ui.widget_state import read_widgets

    window = studio_window
    window.edit.set_source(Image.new("RGB", (64, 64), "red"), "red")
    box = window.edit_panel.outpaint
    assert not box.fill_model.isVisibleTo(box)  # only the model fill needs a file
    box.fill.setCurrentIndex(box.fill.findData("model"))
    assert box.fill_model.isVisibleTo(box) and box.browse_button.isVisibleTo(box)
    box.side_boxes["right"].setValue(32)
    submitted = []
    window.edit.runner.submit = submitted.append
    QTest.mouseClick(box.extend_button, Qt.MouseButton.LeftButton)
    assert submitted[-1].outpaint_fill == "model" and submitted[-1].outpaint_fill_model == ""
    box.fill_model.setText("/models/big-lama.safetensors")
    QTest.mouseClick(box.extend_button, Qt.MouseButton.LeftButton)
    assert submitted[-1].outpaint_fill_model == "/models/big-lama.safetensors"
    saved = read_widgets(window.edit_panel.persisted_widgets())
    assert saved["outpaint_fill"] == "Model"
    assert saved["outpaint_fill_model"] == "/models/big-lama.safetensors"
    box.fill.setCurrentIndex(box.fill.findData("edge"))
    QTest.mouseClick(box.extend_button, Qt.MouseButton.LeftButton)
    assert submitted[-1].outpaint_fill_model == ""  # other fills send no file
