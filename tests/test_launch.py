"""Start-up as `studio` does it: the window frame paints first, the studio is built into it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from studio import app as studio_app
from studio.app import AppConfig, launch_gui
from studio.ui.window_frame import WindowFrame, saved_geometry
from tests.cli_helpers import ROOT


def _config(tmp_path) -> AppConfig:
    return AppConfig(outputs_root=tmp_path / "out", embedded_models_dir=tmp_path / "none",
                     data_dir=tmp_path / "data")


def _launch(qtbot, tmp_path, qsettings):
    seen: dict = {}
    launch = launch_gui(_config(tmp_path), qsettings, lambda done: seen.setdefault("ready", done))
    launch.frame.first_painted.connect(lambda: seen.setdefault("built_at_paint", launch.window))
    qtbot.addWidget(launch.frame)
    qtbot.waitUntil(lambda: "ready" in seen, timeout=20000)
    return launch, seen


def test_the_frame_paints_first_then_holds_the_whole_studio(qtbot, tmp_path):
    qsettings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    launch, seen = _launch(qtbot, tmp_path, qsettings)
    try:
        assert seen["built_at_paint"] is None  # painted before anything was built
        assert seen["ready"] is launch and launch.error == ""
        assert launch.frame.centralWidget() is launch.window
        assert launch.window.isVisible() and not launch.window.isWindow()
        assert launch.window.window() is launch.frame
        assert launch.frame.windowTitle() == "Studio"
        menus = [a.text().replace("&", "") for a in launch.frame.menuBar().actions()]
        assert menus == ["File", "Settings", "View", "History", "Help"]  # the frame's own
        assert launch.window.menuWidget() is None
        assert [launch.window.tabs.tabText(i) for i in range(launch.window.tabs.count())] == [
            "Generate", "Edit", "Upscale", "Explore", "Train"]
        launch.frame.resize(1100, 500)  # (the offscreen screen is narrower: width is clamped)
        assert launch.frame.height() == 500
        launch.window.confirm_close = False
        quit_action = next(a for a in launch.window.findChildren(QAction) if a.text() == "Quit")
        quit_action.trigger()  # File → Quit closes the application window, not only the inside
        assert not launch.frame.isVisible() and not launch.window.isVisible()
        restored = WindowFrame(saved_geometry(qsettings))  # the studio saved the frame's size
        qtbot.addWidget(restored)
        assert restored.height() == 500
    finally:
        assert launch.backend.shutdown(timeout=30)


def test_a_studio_that_cannot_be_built_says_why_in_the_window(qtbot, tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise OSError("the outputs folder is read-only")

    monkeypatch.setattr(studio_app, "build_app", broken)
    qsettings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    launch, seen = _launch(qtbot, tmp_path, qsettings)
    assert launch.error == "OSError: the outputs folder is read-only"
    assert launch.window is None and launch.frame.isVisible()
    assert "the outputs folder is read-only" in launch.frame.note.text()
    assert launch.frame.close()  # nothing inside to ask


class _Refusing(QWidget):
    def __init__(self, refuse: bool) -> None:
        super().__init__()
        self.refuse, self.asked = refuse, 0

    def closeEvent(self, event) -> None:  # noqa: N802, ANN001
        self.asked += 1
        event.ignore() if self.refuse else event.accept()


def test_closing_the_frame_asks_its_content_first(qtbot):
    frame = WindowFrame()
    qtbot.addWidget(frame)
    content = _Refusing(refuse=True)
    frame.set_content(content)
    frame.show()
    assert not frame.close() and frame.isVisible() and content.asked == 1
    content.refuse = False
    assert frame.close() and not frame.isVisible() and content.asked == 2


def test_a_missing_or_bad_saved_geometry_gives_the_default_size(qtbot, tmp_path):
    qsettings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert saved_geometry(qsettings) is None
    qsettings.setValue("window/geometry", "not a geometry")
    assert saved_geometry(qsettings) is None
    frame = WindowFrame(saved_geometry(qsettings))
    qtbot.addWidget(frame)
    assert (frame.width(), frame.height()) == (1280, 820)


PROBE = """
import json, sys, tempfile
from pathlib import Path
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication
from studio.app import AppConfig, launch_gui
app = QApplication([])
scratch = Path(tempfile.mkdtemp())
config = AppConfig(outputs_root=scratch / "out", embedded_models_dir=scratch / "none",
                   data_dir=scratch / "data")
heavy = ("numpy", "PIL.Image", "torch", "studio.ui.main_window", "studio.core.history")
seen = {}
def painted():
    seen.setdefault("at_paint", {m: m in sys.modules for m in heavy})
def ready(launch):
    seen["at_ready"] = {m: m in sys.modules for m in heavy}
    seen["error"] = launch.error
    launch.backend.shutdown(30)
    app.quit()
launch = launch_gui(config, QSettings(str(scratch / "s.ini"), QSettings.Format.IniFormat), ready)
launch.frame.first_painted.connect(painted)
app.exec()
print(json.dumps(seen))
"""


def test_the_frame_paints_before_numpy_pil_or_the_studio_widgets_are_imported():
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["error"] == ""
    assert not any(seen["at_paint"].values()), seen["at_paint"]
    assert seen["at_ready"] == {"numpy": True, "PIL.Image": True, "torch": False,
                                "studio.ui.main_window": True, "studio.core.history": True}


def test_the_studio_is_built_once_even_when_the_build_waits_on_a_dialog(qtbot, tmp_path,
                                                                         monkeypatch):
    """A crash-recovery question during the build runs a nested event loop, in which the
    fallback timer fires too: it must not start a second build."""
    from PySide6.QtTest import QTest

    calls = []

    def slow_build(*_args, **_kwargs):
        calls.append(1)
        QTest.qWait(1300)  # past the 1 s fallback timer, events processed meanwhile
        raise OSError("stop here")

    monkeypatch.setattr(studio_app, "build_app", slow_build)
    qsettings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    launch, _ = _launch(qtbot, tmp_path, qsettings)
    qtbot.wait(300)
    assert calls == [1] and launch.error == "OSError: stop here"
