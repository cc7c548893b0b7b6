"""The Train tab trains a LoRA for the selected model as an engine job (pause, cancel, file)."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from safetensors.torch import load_file

from studio.core.backend import request_kind, request_summary
from studio.core.request_codec import decode_request, encode_request
from studio.core.train_request import LoraDone, LoraTrainRequest, TrainRequest
from tests.test_ui import studio_window  # noqa: F401 - the fixture

TINY_RUN = dict(lr=0.05, batch_size=2)


@pytest.fixture(scope="module")
def magenta(tmp_path_factory):
    folder = tmp_path_factory.mktemp("magenta")
    for index in range(6):
        Image.new("RGB", (64, 64), (200, 20, 200)).save(folder / f"{index}.png")
    (folder / "0.txt").write_text("magenta square")
    return folder


def _lora_panel(window, folder, loras_dir, steps):
    controller = window.train
    controller.loras_dir = loras_dir
    panel = controller.panel
    window.tabs.setCurrentWidget(panel)
    panel.what.setCurrentIndex(panel.what.findData("lora"))
    panel.folder.setText(str(folder))
    panel.steps.setValue(steps)
    return controller, panel


def test_the_panel_shows_the_lora_settings_only_for_a_lora(studio_window):  # noqa: F811
    panel = studio_window.train.panel
    rows = {name: widget for name, widget in (("preset", panel.preset), ("size", panel.size),
                                              ("rank", panel.rank), ("caption", panel.caption),
                                              ("text encoder", panel.text_encoder))}
    visible = lambda: {n for n, w in rows.items() if w.isVisibleTo(panel)}  # noqa: E731
    assert visible() == {"preset", "size"} and panel.name.text() == "my-model"
    panel.what.setCurrentIndex(panel.what.findData("lora"))
    assert visible() == {"rank", "caption", "text encoder"} and panel.name.text() == "my-lora"
    assert "<lora:NAME:1>" in panel.status.text()
    panel.name.setText("kept")
    panel.what.setCurrentIndex(panel.what.findData("model"))
    assert visible() == {"preset", "size"} and panel.name.text() == "kept"


def test_the_train_tab_trains_a_lora_for_the_selected_model(qtbot, studio_window,  # noqa: F811
                                                            magenta, tmp_path):
    window = studio_window
    controller, panel = _lora_panel(window, magenta, tmp_path / "loras", steps=4)
    panel.name.setText("magenta ink")
    panel.rank.setValue(2)
    panel.caption.setText("a square")
    panel.text_encoder.setChecked(True)
    assert controller.start(**TINY_RUN)
    job = controller.job
    qtbot.waitUntil(lambda: window.queue.get(job) is not None, timeout=5_000)
    record = window.queue.get(job)
    assert record.kind == "train" and record.summary == "LoRA magenta-ink (4 steps)"
    assert not panel.what.isEnabled() and panel.pause.isEnabled()
    qtbot.waitUntil(lambda: controller.result is not None, timeout=120_000)
    assert isinstance(controller.result, LoraDone) and controller.result.steps == 4
    path = tmp_path / "loras" / "magenta-ink.safetensors"
    assert controller.result.path == str(path)
    state = load_file(str(path))
    assert {k.rsplit(".", 2)[-2] for k in state} == {"lora_A", "lora_B"}
    assert {k.split(".", 1)[0] for k in state} == {"unet", "text_encoder"}
    assert all(v.shape[0] == 2 for k, v in state.items() if "lora_A" in k)  # the rank asked
    assert len(controller.losses) == 4 and panel.samples.pixmap() is not None
    assert "<lora:magenta-ink:1>" in panel.status.text() and panel.start.isEnabled()


def test_a_cancelled_lora_run_writes_no_file(qtbot, studio_window, magenta,  # noqa: F811
                                             tmp_path):
    window = studio_window
    controller, panel = _lora_panel(window, magenta, tmp_path / "loras", steps=500)
    assert controller.start(**TINY_RUN)
    qtbot.waitUntil(lambda: len(controller.losses) >= 1, timeout=60_000)
    with qtbot.waitSignal(window.signals.cancelled, timeout=60_000):
        qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.result is not None, timeout=10_000)
    assert controller.result.path is None and controller.result.steps < 500
    assert "no LoRA written" in panel.status.text() and panel.start.isEnabled()
    assert not (tmp_path / "loras" / "my-lora.safetensors").exists()


@pytest.mark.parametrize(("changes", "message"), [
    ({"data_dir": ""}, "folder of training images"),
    ({"model_path": ""}, "select the model"),
    ({"steps": 0}, "steps must be"),
    ({"rank": 0}, "rank must be"),
    ({"rank": 500}, "rank must be"),
    ({"name": "../escape"}, "cannot be a LoRA file name"),
    ({"name": ".hidden"}, "cannot be a LoRA file name"),
    ({"name": ""}, "cannot be a LoRA file name"),
])
def test_lora_requests_are_checked(changes, message):
    values = dict(data_dir="/data", model_path="/models/m", loras_dir="/loras")
    LoraTrainRequest(**values).validate()
    with pytest.raises(ValueError, match=message):
        LoraTrainRequest(**{**values, **changes}).validate()


def test_a_lora_request_is_a_train_job_that_survives_the_queue_file():
    request = LoraTrainRequest("/data", "/models/m", "/loras", "ink", 40, 8, "a cat", True,
                               (("lr", 0.01),))
    assert request_kind(request) == "train" and request_summary(request) == "LoRA ink (40 steps)"
    assert decode_request(encode_request(request)) == request


def test_a_new_run_never_replaces_an_earlier_lora_or_model(studio_window, magenta,  # noqa: F811
                                                           tmp_path):
    window = studio_window
    controller, panel = _lora_panel(window, magenta, tmp_path / "loras", steps=4)
    (tmp_path / "loras").mkdir()
    for name in ("ink", "ink-2"):
        (tmp_path / "loras" / f"{name}.safetensors").write_bytes(b"an earlier LoRA")
    submitted = []
    controller.runner.submit = lambda request: submitted.append(request) or 7
    panel.name.setText("ink")
    assert controller.start()
    assert submitted[-1].name == "ink-3" and "as ink-3 (ink exists)" in panel.status.text()
    controller.models_dir = tmp_path / "models"
    (tmp_path / "models" / "squares").mkdir(parents=True)
    panel.what.setCurrentIndex(panel.what.findData("model"))
    panel.name.setText("squares")
    controller.job = None
    assert controller.start()
    assert isinstance(submitted[-1], TrainRequest) and submitted[-1].name == "squares-2"
    assert (tmp_path / "loras" / "ink.safetensors").read_bytes() == b"an earlier LoRA"
