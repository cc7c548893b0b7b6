from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage

from studio.app import AppConfig, build_app
from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from studio.core.upscale import UpscalerKind
from studio.engine.context import EngineContext
from studio.engine.device import plan_device
from studio.ui.qimages import qimage_from_pil
from studio.ui.upscale_panel import describe_progress, pil_from_qimage
from tests.upscale_helpers import build_tiny_sr, noise_image


@pytest.fixture(scope="module")
def sr_root(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("upscalers")
    build_tiny_sr(root)
    return root


@pytest.fixture
def window(qtbot, tmp_path, sr_root):
    config = AppConfig(outputs_root=tmp_path / "out", embedded_models_dir=tmp_path / "none",
                       extra_model_dirs=[sr_root])
    factory = lambda: EngineContext.create(plan_device("cpu"), max_preview_fps=0)  # noqa: E731
    win, worker = build_app(config, factory)
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    yield win
    assert worker.shutdown(timeout=30)


def _pick_tiny_sr(panel) -> None:
    index = panel.model.findText("Residual SR: tiny-sr")
    assert index >= 0, [panel.model.itemText(i) for i in range(panel.model.count())]
    panel.model.setCurrentIndex(index)


def test_panel_upscales_the_canvas_image_into_the_gallery(qtbot, window):
    controller = window.upscale
    panel = controller.panel
    assert window.tabs.tabText(window.tabs.indexOf(panel)) == "Upscale"
    window.canvas.set_image(qimage_from_pil(noise_image(40, 30)))
    qtbot.mouseClick(panel.from_canvas, Qt.MouseButton.LeftButton)
    assert panel.source.size == (40, 30)
    assert panel.tile.text() == "Auto" and panel.overlap.text() == "Auto"
    _pick_tiny_sr(panel)
    panel.scale.setCurrentIndex(panel.scale.findData(2))
    panel.tile.setValue(32)
    panel.overlap.setValue(8)
    assert panel.info.text().startswith("80×60 · 2 tiles of 32px")
    signals = window.property("engine_signals")
    steps = []
    signals.preview.connect(lambda job, step, total, img: steps.append((step, total)))
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        qtbot.mouseClick(panel.upscale_button, Qt.MouseButton.LeftButton)
    assert steps == [(1, 2), (2, 2)]
    assert window.gallery.count() == 1
    result = window.gallery.results[-1]
    assert result.image.size == (80, 60) and result.path.is_file()
    params = parse_infotext(read_parameters(result.path))
    assert params["Upscaler"] == "tiny-sr" and params["Tile"] == "32"
    assert window.canvas.image.size().width() == 80 and not window.canvas.is_preview
    assert panel.status.text().startswith("Done: 80×60")
    # before/after split: left half is the Lanczos source, right half the result
    panel.compare.setChecked(True)
    shown = window.canvas.image.convertToFormat(QImage.Format.Format_RGB888)
    assert shown.size().width() == 80
    right = np.asarray(result.image)[30, 70]
    assert tuple(shown.pixelColor(70, 30).getRgb()[:3]) == tuple(int(v) for v in right)
    panel.compare.setChecked(False)
    assert window.canvas.image.size().width() == 80


def test_gallery_and_clipboard_sources(qtbot, window):
    panel = window.upscale.panel
    QGuiApplication.clipboard().setImage(qimage_from_pil(noise_image(9, 7)))
    panel.paste()
    assert panel.source.size == (9, 7) and "clipboard" in panel.source_label.text()
    panel.source_wanted.emit("gallery")
    assert "No image in the gallery" in panel.status.text()


def test_cancel_from_the_panel_keeps_the_source(qtbot, window):
    panel = window.upscale.panel
    source = noise_image(160, 120)
    panel.set_source(source, "test")
    _pick_tiny_sr(panel)
    panel.tile.setValue(32)
    signals = window.property("engine_signals")
    signals.preview.connect(lambda job, step, total, img: step == 1 and panel.cancel_button.click())
    with qtbot.waitSignal(signals.cancelled, timeout=60_000):
        qtbot.mouseClick(panel.upscale_button, Qt.MouseButton.LeftButton)
    assert window.gallery.count() == 0
    assert "Cancelled" in panel.status.text() and panel.source is source
    assert panel.upscale_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_missing_sr_model_is_listed_unavailable_and_lanczos_is_chosen(window):
    panel = window.upscale.panel
    first = panel.choice_at(0)
    if first.available:
        pytest.skip("the embedded SR model is exported in this checkout")
    assert panel.model.itemText(0).endswith("(unavailable)")
    panel.model.setCurrentIndex(0)
    assert not panel.upscale_button.isEnabled() and "missing" in panel.model_note.text()


def test_progress_text_and_qimage_round_trip():
    from studio.core.upscale import make_request

    image = noise_image(300, 100)
    sd = make_request(image, kind=UpscalerKind.SD_X4, model_path="x", steps=10, tile=128,
                      overlap=16)
    assert sd.tile_count() == 3
    assert describe_progress(sd, 13) == "Tile 2/3 · step 3/10"
    assert describe_progress(sd, 30) == "Tile 3/3 · step 10/10"
    rgba = noise_image(5, 4, mode="RGBA")
    assert np.array_equal(np.asarray(pil_from_qimage(qimage_from_pil(rgba))), np.asarray(rgba))


def test_adding_a_model_folder_by_its_config(window, tmp_path):
    from tests.upscale_helpers import build_tiny_sr

    panel = window.upscale.panel
    folder = build_tiny_sr(tmp_path, seed=5)
    panel.add_model_path(folder / "config.json")
    assert panel.choice().kind is UpscalerKind.SR and panel.choice().path == str(folder)
    panel.add_model_path(tmp_path / "nothing.pth")
    assert "not found" in panel.status.text()


def test_huge_source_is_refused_with_the_reason(window):
    from PIL import Image

    panel = window.upscale.panel
    panel.set_source(Image.new("L", (8000, 8000)), "huge")
    panel.model.setCurrentIndex(panel.model.findText("Lanczos"))
    jobs = []
    panel.upscale_requested.connect(jobs.append)
    panel.request_upscale()
    assert not jobs and "32000x32000" in panel.status.text() and "scale 2" in panel.status.text()


def test_sd_x4_shows_its_settings_and_reports_tile_and_step(qtbot, window, tmp_path):
    from tests.upscale_helpers import build_tiny_sd_x4

    panel = window.upscale.panel
    _pick_tiny_sr(panel)
    assert not panel.diffusion_box.isVisibleTo(panel)
    folder = build_tiny_sd_x4(tmp_path)
    panel.add_model_path(folder / "model_index.json")
    assert panel.choice().kind is UpscalerKind.SD_X4
    assert panel.diffusion_box.isVisibleTo(panel)
    panel.set_source(noise_image(40, 16), "test")
    panel.steps.setValue(2)
    panel.tile.setValue(32)
    texts: list[str] = []
    signals = window.property("engine_signals")
    signals.preview.connect(lambda *a: texts.append(panel.status.text()))
    with qtbot.waitSignal(signals.finished, timeout=60_000):
        panel.prompt.setText("gravel")
        qtbot.mouseClick(panel.upscale_button, Qt.MouseButton.LeftButton)
    assert texts[0].endswith("Tile 1/2 · step 1/2") and texts[-1].endswith("Tile 2/2 · step 2/2")
    result = window.gallery.results[-1]
    params = parse_infotext(read_parameters(result.path))
    assert params["Prompt"] == "gravel" and params["Steps"] == "2"
    assert params["Noise level"] == "20" and result.image.size == (160, 64)
