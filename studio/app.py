"""Composition root: builds the engine, the signal hub and the main window."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.paths import default_data_dir, default_outputs_root
from studio.engine.device import configure_process_env


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


def apply_style(app) -> None:  # noqa: ANN001
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
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


def run_gui(argv: list[str] | None = None) -> int:
    """Open the main window on the default model; returns the exit code."""
    configure_process_env()
    from PySide6.QtWidgets import QApplication

    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    apply_style(app)
    from PySide6.QtCore import QSettings

    from studio.ui.settings import StudioSettings

    settings = StudioSettings(QSettings("Studio", "Studio"))
    window, backend = build_app(config_from_env(), settings=settings)
    if settings.geometry() is None:
        window.resize(1280, 820)
    window.show()
    code = app.exec()
    window.engine_switch.close()
    backend.shutdown(timeout=30)
    window.nothing_lost.end_session()  # clean exit: no crash-recovery offer next time
    return code
