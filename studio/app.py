"""Composition root: builds the engine, the signal hub and the main window."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from studio.engine.device import configure_process_env


@dataclass
class AppConfig:
    """Where things live; the defaults suit a desktop user, tests override them."""

    outputs_root: Path = field(default_factory=lambda: default_outputs_root())
    extra_model_dirs: list[Path] = field(default_factory=list)
    embedded_models_dir: Path | None = None
    data_dir: Path | None = None  # autosave + session marker; None: `outputs_root/.studio`


def default_outputs_root() -> Path:
    env = os.environ.get("STUDIO_OUTPUTS")
    if env:
        return Path(env).expanduser()
    pictures = Path.home() / "Pictures"
    return (pictures if pictures.is_dir() else Path.home()) / "Studio"


def default_data_dir() -> Path:
    env = os.environ.get("STUDIO_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "Studio"


def config_from_env() -> AppConfig:
    extra = [Path(p) for p in os.environ.get("STUDIO_MODELS", "").split(os.pathsep) if p]
    return AppConfig(extra_model_dirs=extra, data_dir=default_data_dir())


def build_app(config: AppConfig, context_factory=None, settings=None):  # noqa: ANN001, ANN201
    """Create signals (GUI thread), worker and window; returns (window, worker)."""
    from studio.core.history import IndexingSaver
    from studio.core.models import EMBEDDED_MODELS_DIR, ModelRegistry
    from studio.core.outputs import OutputFolder
    from studio.engine.signals import EngineSignals
    from studio.engine.worker import EngineWorker, default_context_factory
    from studio.ui.main_window import MainWindow
    from studio.ui.nothing_lost import attach

    signals = EngineSignals()
    outputs_root = (settings.outputs_root() if settings else None) or config.outputs_root
    saver = IndexingSaver(OutputFolder(outputs_root))
    worker = EngineWorker(signals, saver, context_factory or default_context_factory)
    registry = ModelRegistry(config.embedded_models_dir or EMBEDDED_MODELS_DIR,
                             config.extra_model_dirs)
    window = MainWindow(worker, signals, registry, outputs_root, settings)
    window.setProperty("engine_signals", signals)
    attach(window, saver, config.data_dir or outputs_root / ".studio", settings,
           config.outputs_root)
    worker.start()
    return window, worker


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
    app.setPalette(palette)
    app.setStyleSheet(
        "QLabel#heading { font-weight: 600; margin-top: 6px; }"
        "QPushButton#generateButton { background: #3d6fd6; color: white; font-weight: 600;"
        " border-radius: 4px; padding: 6px; }"
        "QPushButton#generateButton:hover { background: #4a7de6; }"
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
    window, worker = build_app(config_from_env(), settings=settings)
    if settings.geometry() is None:
        window.resize(1280, 820)
    window.show()
    code = app.exec()
    worker.shutdown(timeout=30)
    window.nothing_lost.end_session()  # clean exit: no crash-recovery offer next time
    return code
