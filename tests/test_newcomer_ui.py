"""A newcomer's first hour (#19): size warning, prompt-keeping upscales, cancel, autosave, hints.

All through the fake backend (no torch): fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFontMetrics, QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.app import _attach_nothing_lost, apply_style
from studio.core.backend import JobFailed, JobFinished, JobPreview, JobResult, JobStarted
from studio.core.history import HistoryEntry, IndexingSaver
from studio.core.models import ModelRegistry
from studio.core.outputs import OutputFolder
from studio.core.paths import default_outputs_root
from studio.core.records import ImageResult, infotext_for
from studio.core.request_codec import decode_request, encode_request
from studio.core.requests import GenerateRequest
from studio.core.upscale import UpscaleRequest, make_request, upscale_infotext
from studio.ui.engine_signals import EngineSignals
from studio.ui.history_panel import HistoryPanel, short_prompt
from studio.ui.main_window import EDIT_HINT, GENERATE_HINT, UPSCALE_HINT, MainWindow
from studio.ui.size_advice import advise_size
from tests.fake_backend import FakeBackend

CAPTION = "red apple, food & drink, food fruit"


def _model(root: Path, name: str, sample: int) -> Path:
    """A model folder whose configs declare a native size of `sample` × 4 px."""
    folder = root / name
    for part, config in (("unet", {"sample_size": sample}),
                         ("vae", {"block_out_channels": [8, 16, 32]})):
        (folder / part).mkdir(parents=True)
        (folder / part / "config.json").write_text(json.dumps(config))
    (folder / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (folder / "prompts.json").write_text(json.dumps({"expansions": {"red apple": CAPTION}}))
    return folder


@pytest.fixture
def gui(qtbot, tmp_path):
    """The window on a fake backend, with a built-in 64 px model and an SD-like 512 px one,
    plus the History / autosave part (NothingLost)."""
    backend = FakeBackend()
    _model(tmp_path / "builtin", "tiny", 16)
    _model(tmp_path / "user", "sd", 128)
    registry = ModelRegistry(tmp_path / "builtin", [tmp_path / "user"])
    window = MainWindow(backend, EngineSignals(backend), registry, tmp_path / "out")
    window.confirm_close = False
    saver = IndexingSaver(OutputFolder(tmp_path / "out"))
    window.nothing_lost = _attach_nothing_lost(window, saver, tmp_path / "data", None,
                                               tmp_path / "out")
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    yield window, backend
    window.nothing_lost.end_session()


def _settle(qtbot) -> None:
    qtbot.wait(20)


def _finish(backend: FakeBackend, job: int, request: object, color: tuple, infotext: str
            ) -> ImageResult:
    result = ImageResult(job, 0, Image.new("RGB", (64, 64), color), request, infotext, None)
    backend.emit(JobStarted(job, request))  # type: ignore[arg-type]
    backend.emit(JobResult(job, result))
    backend.emit(JobFinished(job))
    return result


def _rgb(window, x: int = 5, y: int = 5) -> tuple[int, int, int]:
    color = window.canvas.image.convertToFormat(QImage.Format.Format_RGB888).pixelColor(x, y)
    return color.red(), color.green(), color.blue()


# ----- 12: sizes the model cannot draw -----------------------------------------------------
def test_size_advice_rules() -> None:
    assert advise_size(64, 64, 64, True) is None
    assert advise_size(96, 64, 64, True) is None  # 1.5×: still fine
    four = advise_size(256, 256, 64, True)
    assert (four.width, four.height, four.upscale_by) == (64, 64, 4)
    assert four.action == "Generate at 64×64 and upscale ×4"
    assert advise_size(128, 128, 64, True).upscale_by == 2
    three = advise_size(192, 192, 64, True)  # 3×: no cascade factor, Hires. fix instead
    assert (three.upscale_by, three.hires_scale) == (1, 3.0)
    sd = advise_size(1024, 1024, 512, False)
    assert (sd.width, sd.height, sd.upscale_by, sd.hires_scale) == (512, 512, 1, 2.0)
    assert sd.action == "Generate at 512×512 with Hires. fix ×2" and "Hires. fix" in sd.message
    wide = advise_size(1024, 768, 512, False)
    assert (wide.width, wide.height, wide.hires_scale) == (512, 384, 2.0)
    assert advise_size(1000, 1000, 512, False).hires_scale == 2.0  # the closest factor
    assert advise_size(4096, 4096, 512, False).hires_scale == 4.0  # at most 4×
    assert advise_size(1280, 1280, 512, False).action.endswith("Hires. fix ×2.5")
    small = advise_size(128, 128, 512, False)
    assert small.action == "Use 512×512" and "smaller" in small.message
    assert advise_size(1024, 512, 512, False).action == "Generate at 512×256 with Hires. fix ×2"
    assert advise_size(512, 512, None, False) is None


def test_generate_tab_warns_and_generates_at_native_size_then_upscales(qtbot, gui) -> None:
    window, backend = gui
    panel = window.panel
    assert window.model_picker.selected().name == "tiny" and panel.width_box.value() == 64
    assert panel.size_warning.isHidden()
    for box in (panel.width_box, panel.height_box):
        box.selectAll()
        QTest.keyClicks(box, "256")
        QTest.keyClick(box, Qt.Key.Key_Tab)
    assert panel.size_warning.isVisible()
    assert "4.0×" in panel.size_warning.label.text()
    button = panel.size_warning.button
    assert button.text() == "Generate at 64×64 and upscale ×4"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert (panel.width_box.value(), panel.height_box.value()) == (64, 64)
    assert panel.upscale.currentData() == 4 and panel.size_warning.isHidden()
    window.generate()
    request = backend.submitted[-1][1]
    assert (request.width, request.height, request.upscale_by) == (64, 64, 4)


def test_sd_models_get_hires_fix_from_the_warning(qtbot, gui) -> None:
    window, backend = gui
    window.model_picker.setCurrentIndex(window.model_picker.findText("sd"))
    panel = window.panel
    assert panel.width_box.value() == 512 and panel.size_warning.isHidden()
    assert panel.hires.currentData() == 1.0 and not panel.hires_strength.isEnabled()
    panel.upscale.setCurrentIndex(panel.upscale.findData(2))
    panel.width_box.setValue(1024)
    panel.height_box.setValue(1024)
    assert panel.size_warning.button.text() == "Generate at 512×512 with Hires. fix ×2"
    qtbot.mouseClick(panel.size_warning.button, Qt.MouseButton.LeftButton)
    assert (panel.width_box.value(), panel.height_box.value()) == (512, 512)
    assert panel.hires.currentText() == "2×" and panel.hires_strength.isEnabled()
    assert panel.upscale.currentData() == 1 and panel.size_warning.isHidden()
    panel.hires_strength.setValue(0.35)
    panel.hires_steps.setValue(12)
    window.generate()
    request = backend.submitted[-1][1]
    assert (request.width, request.height, request.upscale_by) == (512, 512, 1)
    assert (request.hires_scale, request.hires_strength, request.hires_steps) == (2.0, 0.35, 12)
    assert request.output_size == (1024, 1024)


def test_restoring_an_a1111_image_brings_its_hires_fix_back(qtbot, gui) -> None:
    from studio.core.metadata import parameters_from_infotext
    from studio.ui.result_actions import apply_parameters

    window, _ = gui
    panel = window.panel
    text = ("a castle\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x768, "
            "Denoising strength: 0.45, Hires upscale: 1.25, Hires steps: 10, "
            "Hires upscaler: Latent")
    applied = apply_parameters(panel, parameters_from_infotext(text))
    assert "Hires. fix 1.25×" in applied
    values = panel.values()
    assert (values.width, values.height) == (512, 768)
    assert (values.hires_scale, values.hires_strength, values.hires_steps) == (1.25, 0.45, 10)
    assert panel.hires.currentText() == "1.25×"  # not one of the choices: added
    apply_parameters(panel, parameters_from_infotext("a dog\nSteps: 20, Size: 512x512"))
    assert panel.values().hires_scale == 1.0 and panel.hires.currentText() == "Off"


# ----- 14: autosave soon after every change ------------------------------------------------
def test_autosave_follows_prompt_and_canvas_changes(qtbot, gui) -> None:
    window, backend = gui
    keeper = window.nothing_lost.keeper
    keeper.soon.setInterval(30)  # 2 s in the app
    job = window.generate()
    _finish(backend, job, backend.submitted[-1][1], (0, 200, 0), "green")
    qtbot.waitUntil(lambda: keeper.autosave.load() is not None, timeout=3000)
    qtbot.keyClicks(window.panel.prompt, "a blue cube")  # the same image: only the prompt
    qtbot.waitUntil(lambda: keeper.autosave.load().meta["panel"]["prompt"] == "a blue cube",
                    timeout=3000)
    window.panel.steps.setValue(31)
    qtbot.waitUntil(lambda: keeper.autosave.load().meta["panel"]["steps"] == 31, timeout=3000)
    photo = Image.new("RGB", (40, 30), (9, 8, 7))
    window.edit.set_source(photo, "photo")  # a source opened
    qtbot.waitUntil(lambda: keeper.autosave.load().meta.get("editing") is True, timeout=3000)
    assert keeper.autosave.load().image.size == (40, 30)
    qtbot.keyClicks(window.edit_panel.prompt, "a hat")
    qtbot.waitUntil(lambda: keeper.autosave.load().meta.get("edit_prompt") == "a hat",
                    timeout=3000)
    assert not keeper.autosave_now()  # nothing changed since: nothing written


# ----- 15: cancel / failure leaves no half-finished preview --------------------------------
def test_cancel_and_failure_show_the_selected_image_not_the_preview(qtbot, gui) -> None:
    window, backend = gui
    first = window.generate()
    request = backend.submitted[-1][1]
    _finish(backend, first, request, (0, 200, 0), "green")
    _settle(qtbot)
    for end in ("cancel", "fail"):
        job = window.generate()
        backend.emit(JobStarted(job, request))
        blurry = np.zeros((8, 8, 3), np.uint8)
        blurry[..., 0] = 255
        backend.emit(JobPreview(job, 1, 4, blurry))
        _settle(qtbot)
        assert window.canvas.is_preview and _rgb(window) == (255, 0, 0)
        if end == "cancel":
            QTest.keyClick(window, Qt.Key.Key_Escape)
        else:
            backend.emit(JobFailed(job, "Out of memory"))
        _settle(qtbot)
        assert not window.canvas.is_preview and _rgb(window) == (0, 200, 0), end
        assert window.gallery.selected_result().infotext == "green"


def test_cancel_before_any_result_clears_the_preview(qtbot, gui) -> None:
    window, backend = gui
    job = window.generate()
    backend.emit(JobStarted(job, backend.submitted[-1][1]))
    backend.emit(JobPreview(job, 1, 4, np.zeros((8, 8, 3), np.uint8)))
    _settle(qtbot)
    assert window.canvas.is_preview
    QTest.keyClick(window, Qt.Key.Key_Escape)
    _settle(qtbot)
    assert window.canvas.image is None and window.canvas.placeholder == GENERATE_HINT


# ----- 16: upscales keep the prompt; History labels and cells ------------------------------
def test_upscale_from_canvas_and_gallery_carries_the_parameters(qtbot, gui, tmp_path) -> None:
    window, backend = gui
    job = window.generate()
    request = backend.submitted[-1][1]
    infotext = infotext_for(GenerateRequest(model_path="m", model_name="tiny", prompt=CAPTION,
                                            seed=5, width=64, height=64))
    _finish(backend, job, request, (0, 200, 0), infotext)
    _settle(qtbot)
    window.tabs.setCurrentWidget(window.upscale.panel)
    up = window.upscale.panel
    for button in (up.from_canvas, up.from_gallery):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(up.upscale_button, Qt.MouseButton.LeftButton)
        sent = backend.submitted[-1][1]
        assert isinstance(sent, UpscaleRequest) and sent.source_infotext == infotext
        up.set_running(False)
    text = upscale_infotext(sent, "sr-residual")
    assert text.startswith(CAPTION + "\n")
    assert "Seed: 5" in text and "Size: 64x64" in text
    assert "Postprocess upscale by: 4, Postprocess upscaler: sr-residual" in text
    assert decode_request(encode_request(sent)) == sent  # the queue store keeps it
    png = tmp_path / "with-params.png"
    window.gallery.selected_result().image.save(png, pnginfo=_pnginfo(infotext))
    up.load_file(png)  # a file's parameters travel too
    assert up.snapshot(encode=False).source_infotext == infotext


def _pnginfo(text: str):  # noqa: ANN202
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", text)
    return info


def test_upscaling_an_upscaled_copy_multiplies_and_plain_sources_are_unchanged() -> None:
    source = make_request(Image.new("RGB", (8, 8)), scale=2, model_path="m",
                          source_infotext="cat\nSteps: 3, Seed: 1, Postprocess upscale by: 4")
    assert "Postprocess upscale by: 8" in upscale_infotext(source, "sr")
    plain = make_request(Image.new("RGB", (8, 8)), scale=2, model_path="m")
    assert upscale_infotext(plain, "sr").startswith("\nUpscaler: sr, Scale: 2")


def _entry(entry_id: int, prompt: str, size: int, infotext: str = "") -> HistoryEntry:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 0, 0)).save(buffer, "PNG")
    return HistoryEntry(entry_id, Path(f"/x/{entry_id}.png"), 0.0, prompt, "",
                        infotext or prompt, size, size, buffer.getvalue())


def test_history_labels_show_the_users_words_and_cells_line_up(qtbot) -> None:
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.set_expansions({"red apple": CAPTION})
    panel.add_entry(_entry(1, CAPTION, 64))
    panel.add_entry(_entry(2, CAPTION + ", glossy", 112))
    panel.add_entry(_entry(3, CAPTION, 112, f"{CAPTION}\nSteps: 3, Seed: 1, "
                                           "Postprocess upscale by: 4"))
    texts = [panel.grid.item(row).text() for row in range(panel.grid.count())]
    assert texts == ["red apple ×4", "red apple, glossy", "red apple"]
    sizes = {tuple(s.toTuple()) for row in range(panel.grid.count())
             for s in panel.grid.item(row).icon().availableSizes()}
    assert sizes == {(112, 112)}  # a 64 px thumbnail fills the same cell as a 112 px one
    assert panel.grid.textElideMode() == Qt.TextElideMode.ElideMiddle
    assert short_prompt("a cat, oil", {}) == "a cat, oil" and short_prompt(" ", {}) == \
        "(no prompt)"


# ----- 17: smaller ones --------------------------------------------------------------------
def test_each_tab_has_its_own_canvas_hint(qtbot, gui) -> None:
    window, _ = gui
    bar = window.tabs.tabBar()
    for index, hint in ((1, EDIT_HINT), (2, UPSCALE_HINT), (0, GENERATE_HINT)):
        QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
        assert window.canvas.placeholder == hint


def test_buttons_that_can_do_nothing_are_disabled(qtbot, gui) -> None:
    window, backend = gui
    panel, edit = window.panel, window.edit_panel
    assert not panel.keep_button.isEnabled() and not panel.cancel_button.isEnabled()
    job = window.generate()
    backend.emit(JobStarted(job, backend.submitted[-1][1]))
    _settle(qtbot)
    assert panel.keep_button.isEnabled() and panel.cancel_button.isEnabled()
    QTest.keyClick(window, Qt.Key.Key_Escape)
    _settle(qtbot)
    assert not panel.keep_button.isEnabled()
    window.tabs.setCurrentWidget(edit)
    assert not edit.run_button.isEnabled()  # no source
    window.edit.set_source(Image.new("RGB", (64, 64), (1, 2, 3)), "photo")
    assert not edit.run_button.isEnabled()  # no mask painted
    canvas = window.canvas
    middle = canvas.image_rect().center().toPoint()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=middle)
    QTest.mouseMove(canvas, middle + QPoint(10, 5))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=middle + QPoint(10, 5))
    assert edit.run_button.isEnabled()
    qtbot.mouseClick(edit.clear_button, Qt.MouseButton.LeftButton)
    assert not edit.run_button.isEnabled()
    edit.img2img_radio.setChecked(True)  # re-imagine needs no mask
    assert edit.run_button.isEnabled()


def test_disabled_buttons_look_disabled(qtbot) -> None:
    app = QApplication.instance()
    palette, sheet = app.palette(), app.styleSheet()
    try:
        apply_style(app)
        styled = app.palette()
        role = QPalette.ColorRole.ButtonText
        assert styled.color(QPalette.ColorGroup.Disabled, role) != styled.color(
            QPalette.ColorGroup.Active, role)
        assert "generateButton:disabled" in app.styleSheet()
    finally:
        app.setPalette(palette)
        app.setStyleSheet(sheet)


def test_gallery_seed_button_and_outputs_folder(qtbot, gui, tmp_path, monkeypatch) -> None:
    window, _ = gui
    assert window.gallery.verticalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    button = window.panel.random_button
    metrics = QFontMetrics(button.font())
    assert all(metrics.inFontUcs4(ord(c)) for c in button.text()), button.text()
    assert not button.isEnabled()  # already random
    window.panel.seed.setValue(7)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.panel.seed.value() == -1
    monkeypatch.delenv("STUDIO_OUTPUTS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Pictures here
    assert default_outputs_root() == tmp_path / "home" / "Pictures" / "Studio"
