from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from studio.app import AppConfig, build_app
from studio.core.history import HistoryEntry
from studio.core.metadata import read_image_parameters
from studio.engine.context import EngineContext
from studio.engine.device import plan_device
from studio.ui.settings import StudioSettings

A1111 = ("masterpiece, 1girl\nNegative prompt: lowres, bad anatomy\nSteps: 20, Sampler: DPM++ 2M "
         "Karras, CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: abc, Model: v1-5")


@pytest.fixture
def open_app(qtbot, tmp_path, tiny_model_dir):
    """Opens Studio windows on shared folders (a "restart" is a second call)."""
    opened = []

    def _open(outputs=None, settings_file=None, engine=True):
        config = AppConfig(outputs_root=outputs or tmp_path / "out",
                           embedded_models_dir=tmp_path / "none",
                           extra_model_dirs=[tiny_model_dir.parent], data_dir=tmp_path / "data")
        settings = (StudioSettings(QSettings(str(settings_file), QSettings.Format.IniFormat))
                    if settings_file else None)
        factory = (lambda: EngineContext.create(plan_device("cpu"), max_preview_fps=0,
                                                set_threads=False)) if engine else (lambda: None)
        window, worker = build_app(config, factory, settings)
        window.confirm_close = False
        qtbot.addWidget(window)
        window.resize(1200, 760)
        window.show()
        opened.append(worker)
        return window, worker

    yield _open
    for worker in opened:
        assert worker.shutdown(timeout=30)


def _small(window, steps=2, seed=1234, prompt="a small red cube"):
    panel = window.panel
    panel.prompt.setPlainText(prompt)
    panel.steps.setValue(steps)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    panel.scheduler.setCurrentText("DDIM")
    panel.seed.setValue(seed)


def _generate(qtbot, window, **kw):
    _small(window, **kw)
    with qtbot.waitSignal(window.signals.finished, timeout=60_000):
        window.generate()
    return window.gallery.results[-1]


def test_results_enter_a_history_that_survives_restart_with_search_delete_undo(
        qtbot, open_app):
    window, worker = open_app()
    lost = window.nothing_lost
    first = _generate(qtbot, window, prompt="a red apple", seed=1)
    second = _generate(qtbot, window, prompt="a blue car", seed=2)
    assert lost.panel.grid.count() == 2 and first.path.is_file()
    lost.end_session()
    worker.shutdown(timeout=30)
    window.close()

    window, _ = open_app()  # restart
    panel = window.nothing_lost.panel
    assert panel.grid.count() == 2
    panel.search.setText("apple")
    panel.refresh()
    assert [e.path for e in panel.entries.values()] == [first.path]
    panel.search.setText("")
    panel.refresh()
    panel.select(next(e.id for e in panel.entries.values() if e.path == second.path))
    panel.delete_selected()
    assert not second.path.exists() and panel.grid.count() == 1
    assert list((second.path.parents[1] / ".trash").iterdir())
    assert panel.undo_button.isEnabled()
    panel.undo_delete()
    assert second.path.is_file() and panel.grid.count() == 2
    panel.select(next(e.id for e in panel.entries.values() if e.path == first.path))
    panel.grid.setFocus()
    QTest.keyClick(panel.grid, Qt.Key.Key_Delete)
    assert not first.path.exists() and panel.grid.count() == 1
    assert window.nothing_lost.empty_trash(confirm=False) == 1
    assert not panel.undo_button.isEnabled()


def test_rerun_and_use_as_source_from_history(qtbot, open_app):
    window, _ = open_app()
    lost = window.nothing_lost
    original = _generate(qtbot, window, prompt="a lighthouse", seed=77)
    entry = lost.panel.entries[next(iter(lost.panel.entries))]
    window.panel.prompt.setPlainText("something else")
    window.panel.seed.setValue(5)
    with qtbot.waitSignal(window.signals.finished, timeout=60_000):
        assert lost.rerun(entry) is not None
    again = window.gallery.results[-1]
    assert read_image_parameters(again.path).prompt == "a lighthouse"
    assert np.array_equal(np.asarray(again.image), np.asarray(original.image))  # same seed
    lost.use_as_source(entry)
    assert window.edit.source is not None and window.edit.source.size == (64, 64)
    assert window.tabs.currentWidget() is window.edit_panel


def _entry_for(tmp_path, name: str, infotext: str) -> HistoryEntry:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", infotext)
    path = tmp_path / name
    Image.new("RGB", (64, 64), "gray").save(path, pnginfo=info)
    return HistoryEntry(1, path, 0.0, "", "", infotext, 64, 64, b"")


def test_rerun_of_an_edit_result_restores_it_for_the_edit_tab_without_generating(
        qtbot, open_app, tmp_path):
    window, _ = open_app(engine=False)
    entry = _entry_for(tmp_path, "edit.png", "a cat\nSteps: 9, Sampler: DDIM, CFG scale: 5, "
                       "Seed: 3, Size: 64x64, Denoising strength: 0.6, Mode: inpaint")
    submitted = []
    window.submit_job = submitted.append
    assert window.nothing_lost.rerun(entry) is None
    assert submitted == [] and window.tabs.currentWidget() is window.edit_panel
    assert window.edit_panel.prompt.toPlainText() == "a cat"
    assert window.edit_panel.strength.value() == pytest.approx(0.6)
    assert "source image that is not stored" in window.notice.label.text()


def test_rerun_of_an_upscaled_copy_turns_the_cascade_on(qtbot, open_app, tmp_path):
    window, _ = open_app(engine=False)
    entry = _entry_for(tmp_path, "big.png", "a cat\nSteps: 9, Sampler: DDIM, CFG scale: 5, "
                       "Seed: 3, Size: 64x64, Postprocess upscale by: 4, "
                       "Postprocess upscaler: sr-residual")
    assert window.nothing_lost.restore_parameters(entry.path)
    assert window.panel.values().upscale_by == 4
    plain = _entry_for(tmp_path, "plain.png", "a dog\nSteps: 9, Seed: 3, Size: 64x64")
    assert window.nothing_lost.restore_parameters(plain.path)
    assert window.panel.values().upscale_by == 1


def _a1111_png(tmp_path, text=A1111, key="parameters"):
    info = PngImagePlugin.PngInfo()
    info.add_text(key, text)
    path = tmp_path / "from-a1111.png"
    Image.new("RGB", (16, 16), "green").save(path, pnginfo=info)
    return path


def test_dropping_an_a1111_png_on_the_window_restores_settings(qtbot, open_app, tmp_path):
    window, _ = open_app(engine=False)
    path = _a1111_png(tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    # Qt only delivers a Drop during a real drag, so hand the real event to the window's filter
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    assert window.nothing_lost.eventFilter(window, drop) and drop.isAccepted()
    values = window.panel.values()
    assert values.prompt == "masterpiece, 1girl"
    assert values.negative_prompt == "lowres, bad anatomy"
    assert (values.steps, values.scheduler, values.guidance, values.seed) == (
        20, "DPM++ 2M Karras", 7.0, 1234)
    assert (values.width, values.height) == (512, 768)
    assert "Restored parameters" in window.notice.text and "v1-5" in window.notice.text
    img2img = _a1111_png(tmp_path, A1111.replace("Model:", "Denoising strength: 0.35, Model:"))
    assert window.nothing_lost.restore_parameters(img2img)
    assert window.edit_panel.strength.value() == pytest.approx(0.35)


def test_comfyui_png_and_files_without_parameters(qtbot, open_app, tmp_path):
    window, _ = open_app(engine=False)
    lost = window.nothing_lost
    prompt = {"1": {"class_type": "KSampler", "inputs": {
        "seed": 9, "steps": 11, "cfg": 4.5, "sampler_name": "euler_ancestral",
        "scheduler": "normal", "positive": ["2", 0], "negative": ["3", 0]}},
              "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a comfy cat"}},
              "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "dog"}}}
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(_a1111_png(tmp_path, json.dumps(prompt), "prompt")))])
    assert lost.handle_drop(mime)
    values = window.panel.values()
    assert (values.prompt, values.negative_prompt, values.seed) == ("a comfy cat", "dog", 9)
    assert (values.steps, values.scheduler) == (11, "Euler a")
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    assert not lost.restore_parameters(plain)
    assert "no generation parameters" in window.notice.text
    assert window.panel.values().prompt == "a comfy cat"  # untouched


def test_unwritable_outputs_keep_image_in_gallery_with_save_as(qtbot, open_app, tmp_path,
                                                               monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the outputs folder should be")
    window, _ = open_app(outputs=blocker)
    result = _generate(qtbot, window)
    assert result.path is None and window.gallery.count() == 1
    assert "Could not save" in window.notice.text
    labels = [b.text() for b in window.notice.action_buttons]
    assert labels == ["Save as…", "Outputs folder…"]
    target = tmp_path / "rescued.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.notice.action_buttons[0].click()
    assert read_image_parameters(target).prompt == "a small red cube"
    menu = window.nothing_lost.gallery_menu(result)
    actions = {a.text(): a for a in menu.actions()}
    assert set(actions) >= {"Save as…", "Open containing folder", "Copy parameters"}
    assert not actions["Open containing folder"].isEnabled()
    actions["Copy parameters"].trigger()
    assert QApplication.clipboard().text().startswith("a small red cube\nSteps: 2")


def test_outputs_folder_setting_persists_and_is_used(qtbot, open_app, tmp_path):
    ini = tmp_path / "studio.ini"
    window, worker = open_app(settings_file=ini, engine=False)
    lost = window.nothing_lost
    new_root = tmp_path / "elsewhere"
    assert lost.use_outputs_root(new_root)
    assert lost.saver.outputs.root == new_root and window.outputs_root == new_root
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert not lost.use_outputs_root(blocker / "sub")  # cannot be created: refused, unchanged
    assert "not writable" in window.notice.text and lost.saver.outputs.root == new_root
    lost.dock.toggleViewAction().trigger()  # the user hides the History dock
    window.close()
    window, _ = open_app(settings_file=ini, engine=False)
    assert window.nothing_lost.saver.outputs.root == new_root
    assert window.nothing_lost.dock.isHidden()
    assert (new_root / ".studio-history.sqlite3").is_file()
    reset = next(a for a in window.menuBar().actions() if a.text() == "&Settings").menu()
    next(a for a in reset.actions() if a.text() == "Reset settings").trigger()
    assert window.nothing_lost.saver.outputs.root == tmp_path / "out"
    assert window.settings.outputs_root() is None


def test_pngs_from_elsewhere_are_indexed_in_the_background(qtbot, open_app, tmp_path):
    day = tmp_path / "out" / "2024-05-01"
    day.mkdir(parents=True)
    _a1111_png(tmp_path).rename(day / "00001-1234.png")
    window, _ = open_app(engine=False)
    panel = window.nothing_lost.panel
    qtbot.waitUntil(lambda: panel.grid.count() == 1, timeout=10_000)
    assert next(iter(panel.entries.values())).prompt == "masterpiece, 1girl"


def test_crash_leaves_work_that_is_offered_back(qtbot, open_app, tmp_path):
    window, worker = open_app(engine=False)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 56, 3), np.uint8))
    window.edit.set_source(photo, "photo")
    window.canvas.mask.fill()
    window.canvas.mask_changed.emit()  # a finished stroke schedules a save shortly after
    qtbot.waitUntil(lambda: window.nothing_lost.autosave.load() is not None, timeout=10_000)
    window.edit.set_source(photo, "photo")
    window.canvas.mask.fill()
    assert window.nothing_lost.autosave_now()
    assert not window.nothing_lost.autosave_now()  # unchanged: nothing written
    # simulate a crash: the process is gone without end_session(), its marker stays behind
    marker = window.nothing_lost.marker.path
    marker.rename(marker.with_name("session-999999999.running"))
    window2, _ = open_app(engine=False)
    assert window2.nothing_lost.crashed
    assert "did not exit cleanly" in window2.notice.text
    restore = window2.notice.action_buttons[0]
    assert restore.text() == "Restore"
    restore.click()
    assert np.array_equal(np.asarray(window2.edit.source), np.asarray(photo))
    assert window2.canvas.mask.to_numpy().min() == 255
    window2.nothing_lost.end_session()
    window3, _ = open_app(engine=False)
    assert not window3.nothing_lost.crashed and "did not exit" not in window3.notice.text


def test_closing_during_a_job_asks_then_cancels_without_hanging(qtbot, open_app,
                                                                 monkeypatch):
    window, worker = open_app()
    window.confirm_close = True
    asked = []
    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(1) or next(answers))
    _small(window, steps=500)
    with qtbot.waitSignal(window.signals.preview, timeout=60_000):
        window.generate()
    window.close()
    assert window.isVisible() and worker.busy  # "No": keep running
    with qtbot.waitSignal(window.signals.cancelled, timeout=60_000):
        window.close()
    assert len(asked) == 2 and not window.isVisible()
    assert worker.shutdown(timeout=30)
