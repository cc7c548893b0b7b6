"""Composition root: builds the engine, the signal hub and the main window."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.paths import default_data_dir, default_outputs_root
from studio.engine.device import configure_process_env

if TYPE_CHECKING:
    from studio.core.backend import Backend
    from studio.ui.main_window import MainWindow
    from studio.ui.window_frame import WindowFrame


@dataclass
class AppConfig:
    """Where things live; the defaults suit a desktop user, tests override them."""

    outputs_root: Path = field(default_factory=lambda: default_outputs_root())
    extra_model_dirs: list[Path] = field(default_factory=list)
    embedded_models_dir: Path | None = None
    data_dir: Path | None = None  # autosave + session marker; None: `outputs_root/.studio`


def config_from_env() -> AppConfig:
    extra = [Path(p) for p in os.environ.get("STUDIO_MODELS", "").split(os.pathsep) if p]
    return AppConfig(extra_model_dirs=extra, data_dir=default_data_dir())


def build_app(config: AppConfig, context_factory=None, settings=None):  # noqa: ANN001, ANN201
    """Create the backend, its GUI-thread signals, the window and its controllers.

    Returns (window, backend); the backend is started.
    """
    from studio.core.history import IndexingSaver
    from studio.core.job_queue import QueueStore
    from studio.core.models import EMBEDDED_MODELS_DIR, ModelRegistry
    from studio.core.outputs import OutputFolder
    from studio.engine.local_backend import LocalBackend
    from studio.engine.worker import default_context_factory
    from studio.ui.engine_signals import EngineSignals
    from studio.ui.main_window import MainWindow

    outputs_root = (settings.outputs_root() if settings else None) or config.outputs_root
    data_dir = config.data_dir or outputs_root / ".studio"
    saver = IndexingSaver(OutputFolder(outputs_root))
    backend = LocalBackend(saver, context_factory or default_context_factory)
    signals = EngineSignals(backend)
    registry = ModelRegistry(config.embedded_models_dir or EMBEDDED_MODELS_DIR,
                             config.extra_model_dirs)
    window = MainWindow(backend, signals, registry, outputs_root, settings,
                        models_dir=data_dir / "models",
                        queue_store=QueueStore(data_dir / "queue.json"))
    window.setProperty("engine_signals", signals)
    window.nothing_lost = _attach_nothing_lost(window, saver, data_dir, settings,
                                               config.outputs_root)
    backend.start()
    _attach_engine_switch(window, signals, saver, backend, settings)
    return window, backend


def _attach_engine_switch(window, signals, saver, backend, settings) -> None:  # noqa: ANN001
    """Settings → Engine swaps Local/Remote; a remembered Remote engine reconnects now."""
    from studio.engine_switch import EngineSwitch
    from studio.ui.engine_settings import load_choice

    window.engine_switch = EngineSwitch(window, signals, saver, backend)
    error = window.engine_switch.restore(load_choice(settings))
    if error:
        window.notice.show_message(error, "warning")


def _attach_nothing_lost(window, saver, data_dir: Path, settings,  # noqa: ANN001, ANN202
                         default_root: Path):
    from studio.ui.nothing_lost import NothingLost, NothingLostParts

    def set_root(root: Path) -> None:
        window.outputs_root = root

    parts = NothingLostParts(
        host=window, canvas=window.canvas, gallery=window.gallery, notice=window.notice,
        tabs=window.tabs, prompt_panel=window.panel, edit_panel=window.edit_panel,
        edit=window.edit, models=window.model_picker, status=window.progress_label,
        signals=window.signals, generate=window.generate, outputs_root_changed=set_root)
    return NothingLost(parts, saver, data_dir, settings, default_root)


def make_application(argv: list[str]):  # noqa: ANN201 - a QApplication
    """The QApplication in the studio's look: Fusion (chosen by argument: a style set later
    costs 10 ms of start-up in PySide's enum wrappers) with the dark palette."""
    from PySide6.QtWidgets import QApplication

    app = QApplication([*(argv[:1] or ["studio"]), "-style", "Fusion", *argv[1:]])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    apply_palette(app)
    return app


def apply_style(app) -> None:  # noqa: ANN001
    """Fusion with the dark palette, for an application made elsewhere (tests)."""
    app.setStyle("Fusion")
    apply_palette(app)


def apply_palette(app) -> None:  # noqa: ANN001
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#2b2d31", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f2023", QPalette.ColorRole.AlternateBase: "#2b2d31",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#35373c",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#5b8def",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#1f2023",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8d93",
    }
    for role, value in colors.items():
        palette.setColor(role, QColor(value))
    disabled = QPalette.ColorGroup.Disabled  # buttons that can do nothing must look it
    for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText,
                 QPalette.ColorRole.Text):
        palette.setColor(disabled, role, QColor("#6f7277"))
    palette.setColor(disabled, QPalette.ColorRole.Button, QColor("#2e3034"))
    app.setPalette(palette)
    app.setStyleSheet(
        "QLabel#heading { font-weight: 600; margin-top: 6px; }"
        "QPushButton#generateButton { background: #3d6fd6; color: white; font-weight: 600;"
        " border-radius: 4px; padding: 6px; }"
        "QPushButton#generateButton:hover { background: #4a7de6; }"
        "QPushButton#generateButton:disabled { background: #34405a; color: #8a8d93; }"
    )


@dataclass
class Launch:
    """The GUI as it starts: the frame at once; the window and backend once built."""

    frame: WindowFrame
    window: MainWindow | None = None
    backend: Backend | None = None
    error: str = ""
    started: bool = False  # the build has begun (it may open dialogs: a nested event loop)


def launch_gui(config: AppConfig, qsettings, ready=None) -> Launch:  # noqa: ANN001
    """Show the window frame now and build the studio into it once the frame has painted.

    `ready(launch)` is called after the build (or after a failed one, with `error` set).
    """
    from PySide6.QtCore import QTimer

    from studio.ui.window_frame import WindowFrame, saved_geometry

    launch = Launch(WindowFrame(saved_geometry(qsettings)))

    def build() -> None:
        if launch.started:  # once: the paint and the fallback timer both ask
            return
        launch.started = True
        try:
            _build_into(launch, config, qsettings)
        except Exception as exc:  # noqa: BLE001 - shown in the window, the app stays open
            launch.error = f"{type(exc).__name__}: {exc}"
            launch.frame.show_error(launch.error)
        if ready is not None:
            ready(launch)

    launch.frame.first_painted.connect(lambda: QTimer.singleShot(0, build))
    QTimer.singleShot(1000, build)  # a frame that never paints (minimised) still gets built
    launch.frame.show()
    return launch


def _build_into(launch: Launch, config: AppConfig, qsettings) -> None:  # noqa: ANN001
    from studio.ui.settings import StudioSettings

    launch.window, launch.backend = build_app(config, settings=StudioSettings(qsettings))
    launch.frame.set_content(launch.window)


def run_gui(argv: list[str] | None = None) -> int:
    """Open the main window on the default model; returns the exit code."""
    configure_process_env()
    from PySide6.QtCore import QSettings

    app = make_application(argv if argv is not None else sys.argv[:1])
    launch = launch_gui(config_from_env(), QSettings("Studio", "Studio"))
    code = app.exec()
    if launch.window is not None:
        launch.window.engine_switch.close()
        launch.backend.shutdown(timeout=30)
        launch.window.nothing_lost.end_session()  # clean exit: no crash offer next time
    return code
