"""In-app training: the session (pause, resume, cancel, export) and the Train tab with qtbot."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt

from studio.core.models import ModelRegistry
from studio.training.session import TrainSession, session_config
from tests.test_ui import studio_window  # noqa: F401 - the fixture

COLORS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220), "white": (250,) * 3}
TINY = dict(channels=(8, 16), head_dim=4, text_hidden=16, vocab_size=300, batch_size=4)


@pytest.fixture(scope="module")
def square_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("squares")
    for index in range(8):
        name = list(COLORS)[index % 4]
        Image.new("RGB", (64, 64), COLORS[name]).save(folder / f"{index:02d}.png")
        if index % 2 == 0:  # captions are optional
            (folder / f"{index:02d}.txt").write_text(f"{name} square")
    return folder


def _session(data: Path, tmp_path: Path, vae: Path, steps: int) -> TrainSession:
    config = session_config(data, tmp_path / "run", vae, "Tiny (minutes on a CPU)", steps, 64,
                            **TINY)
    return TrainSession(config, tmp_path / "models" / "squares", sample_every=3, sample_steps=2)


def test_session_trains_pauses_and_exports_a_loadable_model(square_images, tmp_path,
                                                            tiny_model_dir) -> None:
    from diffusers import StableDiffusionPipeline

    session = _session(square_images, tmp_path, tiny_model_dir / "vae", steps=5)
    steps, samples, paused = [], [], threading.Event()

    def on_step(step: int, total: int, loss: float) -> None:
        steps.append((step, total, loss))
        if step == 2:
            session.pause()
            paused.set()

    worker = threading.Thread(target=lambda: samples.append(session.run(on_step, lambda s, im:
                                                                        samples.append(s))))
    worker.start()
    assert paused.wait(120)
    assert session.paused and len(steps) == 2 and worker.is_alive()
    session.resume()
    worker.join(120)
    result = samples.pop()
    assert [s[0] for s in steps] == [1, 2, 3, 4, 5] and samples == [3, 5]
    assert result.steps == 5 and len(result.losses) == 5 and np.isfinite(result.losses).all()
    assert (result.model_dir / "model_index.json").is_file()
    assert [e.name for e in ModelRegistry(tmp_path / "none", [tmp_path / "models"]).entries()] \
        == ["squares"]
    pipe = StableDiffusionPipeline.from_pretrained(result.model_dir)
    pipe.set_progress_bar_config(disable=True)
    image = pipe("red square", num_inference_steps=2, height=64, width=64,
                 generator=torch.Generator().manual_seed(0)).images[0]
    assert image.size == (64, 64)


def test_cancelled_session_exports_nothing(square_images, tmp_path, tiny_model_dir) -> None:
    session = _session(square_images, tmp_path, tiny_model_dir / "vae", steps=50)

    def on_step(step: int, total: int, loss: float) -> None:
        if step == 3:
            session.cancel()

    result = session.run(on_step)
    assert result.steps == 3 and result.model_dir is None
    assert not (tmp_path / "models" / "squares").exists()
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


def test_train_tab_runs_in_background_and_adds_the_model(qtbot, studio_window,  # noqa: F811
                                                         square_images, tmp_path) -> None:
    window = studio_window
    controller = window.train
    controller.models_dir = tmp_path / "user-models"
    panel = controller.panel
    window.tabs.setCurrentWidget(panel)
    panel.folder.setText(str(square_images))
    panel.name.setText("my squares")
    panel.steps.setValue(4)
    panel.size.setValue(64)
    assert controller.start(**TINY)
    assert not panel.start.isEnabled() and panel.pause.isEnabled()
    qtbot.waitUntil(lambda: controller.result is not None, timeout=120_000)
    assert controller.result.steps == 4 and len(controller.losses) == 4
    assert len(panel.loss_plot.series) == 2 and panel.samples.pixmap() is not None
    assert window.selected_model().name == "my-squares"
    assert "Done" in panel.status.text() and panel.start.isEnabled()


def test_train_tab_explains_a_missing_folder(qtbot, studio_window) -> None:  # noqa: F811
    controller = studio_window.train
    controller.panel.folder.setText("")
    assert not controller.start()
    assert "folder" in controller.panel.status.text()


def test_train_tab_pauses_and_cancels_through_the_engine_queue(qtbot, studio_window,  # noqa: F811
                                                               square_images, tmp_path) -> None:
    window = studio_window
    controller = window.train
    controller.models_dir = tmp_path / "user-models"
    panel = controller.panel
    panel.folder.setText(str(square_images))
    panel.steps.setValue(500)
    assert controller.start(**TINY)
    job = controller.job
    qtbot.waitUntil(lambda: window.queue.get(job) is not None, timeout=5_000)
    assert window.queue.get(job).kind == "train"  # a job like any other, in the Queue dock
    qtbot.waitUntil(lambda: len(controller.losses) >= 1, timeout=60_000)
    qtbot.mouseClick(panel.pause, Qt.MouseButton.LeftButton)
    qtbot.wait(300)
    paused_at = len(controller.losses)
    qtbot.wait(500)
    assert len(controller.losses) <= paused_at + 1 and panel.pause.text() == "Resume"
    with qtbot.waitSignal(window.signals.cancelled, timeout=60_000):
        qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.result is not None, timeout=10_000)
    assert controller.result.model_dir is None and controller.result.steps < 500
    assert "nothing exported" in panel.status.text() and panel.start.isEnabled()
    assert not (tmp_path / "user-models" / "my-model").exists()


def test_train_tab_stops_asking_for_a_folder_once_one_is_chosen(qtbot, studio_window,  # noqa: F811
                                                                square_images) -> None:
    panel = studio_window.train.panel
    panel.folder.setText("")
    assert not studio_window.train.start()
    assert panel.status.text() == "Choose a folder of images first."
    panel.folder.setText(str(square_images))
    assert "Choose a folder" not in panel.status.text()
