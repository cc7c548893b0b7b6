"""The whole GUI driven through a fake backend: the seam a remote engine plugs into."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from studio.core.backend import (
    CAUSE_LORA,
    JobFailed,
    JobFinished,
    JobPreview,
    JobProgress,
    JobResult,
    JobStarted,
)
from studio.core.job_queue import JobState, QueueStore
from studio.core.models import ModelRegistry
from studio.core.records import ImageResult
from studio.core.requests import GenerateRequest
from studio.ui.engine_signals import EngineSignals
from studio.ui.main_window import MainWindow
from tests.fake_backend import FakeBackend


def _model_folder(root):
    folder = root / "fake-sd"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    return folder


@pytest.fixture
def fake_gui(qtbot, tmp_path):
    backend = FakeBackend()
    models = _model_folder(tmp_path / "models")
    registry = ModelRegistry(tmp_path / "none", [models.parent])
    store = QueueStore(tmp_path / "data" / "queue.json")
    window = MainWindow(backend, EngineSignals(backend), registry, tmp_path / "out",
                        queue_store=store)
    window.confirm_close = False
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    return window, backend


def _pixel(window) -> tuple[int, int, int]:
    image = window.canvas.image.convertToFormat(QImage.Format.Format_RGB888)
    color = image.pixelColor(5, 5)
    return color.red(), color.green(), color.blue()


def _settle(qtbot) -> None:
    qtbot.wait(20)  # events reach the GUI through queued signals


def test_submit_previews_result_failure_retry_and_cancel(qtbot, fake_gui) -> None:
    window, backend = fake_gui
    window.panel.width_box.setValue(64)
    window.panel.height_box.setValue(64)
    qtbot.keyClicks(window.panel.prompt, "a red cube")
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    job, request = backend.submitted[-1]
    assert isinstance(request, GenerateRequest) and request.prompt == "a red cube"
    assert window.queue.get(job).state is JobState.QUEUED
    assert window.queue_panel.list.count() == 1

    backend.emit(JobStarted(job, request))
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 255
    backend.emit(JobProgress(job, 1, 4, 3.0))
    backend.emit(JobPreview(job, 1, 4, red))
    _settle(qtbot)
    assert window.canvas.is_preview and _pixel(window) == (255, 0, 0)
    assert "Step 1/4" in window.progress_label.text()
    assert "Running · Step 1/4 · ETA 3s" in window.queue_panel.list.item(0).text()
    backend.emit(JobProgress(job, 2, 4, 2.0, image=1, images=3))  # a batch: which image
    _settle(qtbot)
    assert "Running · Image 2/3 · Step 2/4 · ETA 2s" in window.queue_panel.list.item(0).text()

    green = Image.new("RGB", (64, 64), (0, 200, 0))
    backend.emit(JobResult(job, ImageResult(job, 0, green, request, "a red cube", None)))
    backend.emit(JobFinished(job))
    _settle(qtbot)
    assert not window.canvas.is_preview and _pixel(window) == (0, 200, 0)
    assert window.gallery.count() == 1 and "Done" in window.progress_label.text()
    assert window.queue.get(job).state is JobState.DONE
    assert not window.queue_panel.list.item(0).icon().isNull()  # the thumbnail

    second = window.generate()
    _settle(qtbot)
    backend.emit(JobStarted(second, request))
    backend.emit(JobFailed(second, "Out of memory. Try a smaller size."))
    _settle(qtbot)
    assert "Out of memory" in window.notice.text and window.progress_label.text() == "Failed"
    window.queue_panel.select_job(second)
    assert window.queue_panel.retry_button.isEnabled()
    qtbot.mouseClick(window.queue_panel.retry_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    third, again = backend.submitted[-1]
    assert third != second and again.prompt == "a red cube"

    backend.emit(JobStarted(third, again))
    _settle(qtbot)
    QTest.keyClick(window, Qt.Key.Key_Escape)
    _settle(qtbot)
    assert backend.cancelled == [third]
    assert window.queue.get(third).state is JobState.CANCELLED
    assert window.progress_label.text() == "Cancelled"


def test_queue_dock_cancels_and_moves_waiting_jobs(qtbot, fake_gui) -> None:
    window, backend = fake_gui
    ids = [window.generate() for _ in range(4)]
    _settle(qtbot)
    backend.emit(JobStarted(ids[0], backend.submitted[0][1]))
    _settle(qtbot)
    assert "Job 1 of 4" in window.progress_label.text()
    dock = window.queue_panel
    dock.select_job(ids[2])
    qtbot.mouseClick(dock.cancel_button, Qt.MouseButton.LeftButton)
    dock.select_job(ids[3])
    qtbot.mouseClick(dock.up_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert backend.cancelled == [ids[2]] and backend.waiting == [ids[3], ids[1]]
    order = [r.job_id for r in window.queue.records()]
    assert order == [ids[0], ids[3], ids[1], ids[2]]
    assert [r.state for r in window.queue.records()] == [
        JobState.RUNNING, JobState.QUEUED, JobState.QUEUED, JobState.CANCELLED]
    assert not dock.up_button.isEnabled()  # ids[3] is now first among the waiting
    qtbot.mouseClick(dock.clear_button, Qt.MouseButton.LeftButton)
    assert ids[2] not in [r.job_id for r in window.queue.records()]


def test_queued_jobs_are_offered_back_after_a_quit(qtbot, tmp_path, fake_gui) -> None:
    window, backend = fake_gui
    ids = [window.generate() for _ in range(2)]
    _settle(qtbot)
    window.close()  # quitting cancels the jobs, but they stay offered
    _settle(qtbot)
    assert len(backend.cancelled) == 2
    store = QueueStore(tmp_path / "data" / "queue.json")
    assert len(store.load()) == 2

    backend2 = FakeBackend()
    registry = ModelRegistry(tmp_path / "none", [tmp_path / "models"])
    window2 = MainWindow(backend2, EngineSignals(backend2), registry, tmp_path / "out",
                         queue_store=store)
    window2.confirm_close = False
    qtbot.addWidget(window2)
    window2.show()
    assert "2 jobs were still queued" in window2.notice.text
    assert window2.queue_keeper.restore() == 2
    assert [r.prompt for _, r in backend2.submitted] == [r.prompt for _, r in
                                                          backend.submitted[:2]]
    assert ids == [1, 2]


def test_building_the_window_imports_no_torch(tmp_path) -> None:
    models = _model_folder(tmp_path / "models")
    script = f"""
import sys
from PySide6.QtWidgets import QApplication
from studio.core.models import ModelRegistry
from studio.ui.engine_signals import EngineSignals
from studio.ui.main_window import MainWindow
from tests.fake_backend import FakeBackend
app = QApplication([])
backend = FakeBackend()
window = MainWindow(backend, EngineSignals(backend), ModelRegistry({str(tmp_path / 'none')!r},
                    [{str(models.parent)!r}]), {str(tmp_path / 'out')!r})
window.show()
app.processEvents()
heavy = [m for m in ("torch", "diffusers", "transformers", "studio.training",
                     "studio.engine.runner") if m in sys.modules]
print("HEAVY", heavy)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env={**__import__("os").environ,
                                           "QT_QPA_PLATFORM": "offscreen"})
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_a_job_failed_on_a_lora_offers_to_run_without_it(qtbot, fake_gui) -> None:
    window, backend = fake_gui
    window.panel.prompt.setPlainText("a cat <lora:missing:0.8>")
    job = window.generate()
    _settle(qtbot)
    request = backend.submitted[-1][1]
    backend.emit(JobStarted(job, request))
    backend.emit(JobFailed(job, "LoRA 'missing' not found (looked in: /loras)", CAUSE_LORA))
    _settle(qtbot)
    assert "not found" in window.notice.text
    buttons = {b.text(): b for b in window.notice.action_buttons}
    assert list(buttons) == ["Run without it"]
    qtbot.mouseClick(buttons["Run without it"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    retry = backend.submitted[-1][1]
    assert retry.skip_bad_loras and retry.prompt == request.prompt and not request.skip_bad_loras

    other = window.generate()  # any other failure offers nothing, whatever its words
    _settle(qtbot)
    backend.emit(JobFailed(other, "LoRA tags need a name: <lora::1>"))
    _settle(qtbot)
    assert window.notice.action_buttons == []


def test_queue_rows_show_the_words_the_user_typed(qtbot, fake_gui) -> None:
    window, backend = fake_gui
    window.queue_panel.set_expansions({"red apple": "red apple, food & drink, food fruit"})
    window.panel.prompt.setPlainText("red apple, food & drink, food fruit, glossy")
    window.generate()
    _settle(qtbot)
    assert window.queue_panel.list.item(0).text().startswith("… txt2img: red apple, glossy\n")


def test_status_bar_follows_the_engines_progress_events(qtbot, fake_gui) -> None:
    window, backend = fake_gui
    job = window.generate()
    _settle(qtbot)
    backend.emit(JobStarted(job, backend.submitted[-1][1]))
    backend.emit(JobProgress(job, 2, 4, 65.0, image=1, images=3))  # no preview needed
    _settle(qtbot)
    assert window.progress_label.text() == "Image 2/3 · Step 2/4 · ETA 1m 05s"
    assert window.progress.value() == 50  # (1 + 2/4) / 3 images
