"""The main window switched to a Remote engine (a fake server on 127.0.0.1, no Ray)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from studio.app import AppConfig, build_app
from studio.core.outputs import read_parameters
from studio.ui.engine_settings import EngineChoice, load_choice, save_choice
from tests.remote_helpers import TOKEN, FakeGateway, LocalServer


@pytest.fixture
def remote_window(qtbot, tmp_path):
    gateway = FakeGateway(steps=4, delay=0.05)
    server = LocalServer(gateway, {"server-model": "/srv/models/server-model"})
    config = AppConfig(outputs_root=tmp_path / "out", embedded_models_dir=tmp_path / "none")
    window, local = build_app(config, lambda: None)
    window.confirm_close = False
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    yield window, server, gateway
    window.engine_switch.close()
    assert local.shutdown(timeout=10)
    server.stop()


def test_remote_engine_previews_saves_and_switches_back(qtbot, remote_window, tmp_path) -> None:
    window, server, gateway = remote_window
    switch = window.engine_switch
    assert "refused the token" in switch(EngineChoice("remote", server.url, "wrong"))
    assert switch.current is switch.local
    assert switch(EngineChoice("remote", server.url, TOKEN)) is None
    assert window.model_picker.currentText() == "server-model"
    window.panel.width_box.setValue(64)
    window.panel.height_box.setValue(64)
    qtbot.keyClicks(window.panel.prompt, "a red cube")
    qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.canvas.is_preview, timeout=10_000)
    qtbot.waitUntil(lambda: window.gallery.count() == 1 and not window.canvas.is_preview,
                    timeout=10_000)
    assert gateway.jobs[0]["model_path"] == "/srv/models/server-model"
    saved = list((tmp_path / "out").rglob("*.png"))
    assert len(saved) == 1 and read_parameters(saved[0]).startswith("remote prompt")
    assert switch(EngineChoice()) is None and switch.current is switch.local
    assert window.runner.backend is switch.local


def test_the_choice_is_remembered(tmp_path) -> None:
    from PySide6.QtCore import QSettings

    from studio.ui.settings import StudioSettings

    settings = StudioSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert load_choice(settings) == EngineChoice()
    save_choice(settings, EngineChoice("remote", "http://127.0.0.1:9", "secret"))
    assert load_choice(settings) == EngineChoice("remote", "http://127.0.0.1:9", "secret")


def test_a_dead_server_fails_the_running_job_and_the_window_keeps_going(qtbot, remote_window):
    window, server, gateway = remote_window
    gateway.steps, gateway.delay = 200, 0.05
    assert window.engine_switch(EngineChoice("remote", server.url, TOKEN)) is None
    window.generate()
    qtbot.waitUntil(lambda: window.canvas.is_preview, timeout=10_000)
    server.server.force_exit = True
    server.stop()
    qtbot.waitUntil(lambda: window.progress_label.text() == "Failed", timeout=20_000)
    assert "remote engine" in window.notice.text and "Traceback" not in window.notice.text
    assert window.engine_switch(EngineChoice()) is None
