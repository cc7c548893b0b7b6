"""The main window: prompt panel, canvas, gallery strip, model picker, progress."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QTextEdit,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from studio.core.backend import CAUSE_LORA, Backend, JobProgress, Request
from studio.core.job_queue import JobQueue, QueueStore
from studio.core.models import ModelEntry, ModelRegistry, model_defaults, native_resolution
from studio.core.previews import RegionPreview
from studio.core.progress import describe_steps, format_duration, progress_fraction
from studio.core.prompts import load_expansions
from studio.core.records import ImageResult
from studio.core.requests import GenerateRequest
from studio.core.upscale import UpscaleRequest
from studio.ui.canvas import ImageCanvas
from studio.ui.edit_controller import EditController
from studio.ui.edit_panel import EditPanel
from studio.ui.engine_signals import EngineSignals
from studio.ui.gallery import GalleryStrip
from studio.ui.job_runner import JobRunner
from studio.ui.model_picker import ModelPicker
from studio.ui.notice import NoticeBar
from studio.ui.prompt_panel import PromptPanel
from studio.ui.qimages import qimage_from_array, qimage_from_pil, qimage_from_rgba
from studio.ui.queue_dock import QueuePanel
from studio.ui.queue_persistence import QueuePersistence
from studio.ui.settings import StudioSettings
from studio.ui.widget_state import read_widgets, write_widgets

if TYPE_CHECKING:
    from studio.ui.upscale_panel import UpscalePanel

GENERATE_HINT = "Type a prompt and press Ctrl+Enter to generate."
EDIT_HINT = "Open an image to edit (Open…, drop it here, or paste with Ctrl+V)."
UPSCALE_HINT = "Choose a source to upscale: Canvas, Gallery, File… or Paste."


def typing_focus() -> bool:
    """Whether the keyboard focus is in a text box (there keys type and undo text)."""
    focus = QApplication.focusWidget()
    return isinstance(focus, QLineEdit | QPlainTextEdit | QTextEdit | QAbstractSpinBox)


class MainWindow(QMainWindow):
    """Composes the widgets and routes engine signals to them (GUI thread only)."""

    def __init__(self, backend: Backend, signals: EngineSignals, registry: ModelRegistry,
                 outputs_root: Path, settings: StudioSettings | None = None,
                 models_dir: Path | None = None, queue: JobQueue | None = None,
                 queue_store: QueueStore | None = None) -> None:
        super().__init__()
        self.signals, self.registry = signals, registry
        self.settings = settings
        self.outputs_root = outputs_root
        self.current_job: int | None = None
        self.confirm_close = True
        self._job_started_at = 0.0
        self._generate_hint = GENERATE_HINT
        self.setWindowTitle("Studio")
        self._build_widgets()
        self.runner = JobRunner(backend, signals, self.notice, queue)
        self.queue = self.runner.queue
        self._build_actions()
        self._connect_engine()  # before the controllers: the window's slots run first
        self._build_controllers(models_dir)
        self._build_queue_dock()
        self.tabs.currentChanged.connect(lambda _: self._show_tab_hint())
        self.queue_keeper = (QueuePersistence(self.queue, queue_store, self.notice,
                                              self.submit_job) if queue_store else None)
        self._restore_settings()

    # ----- construction -------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.panel = PromptPanel()
        self.tabs = QTabWidget()
        self.tabs.setMaximumWidth(480)
        self.tabs.addTab(self.panel, "Generate")
        self.edit_panel = EditPanel()
        self.tabs.addTab(self.edit_panel, "Edit")
        self.canvas = ImageCanvas()
        self.gallery = GalleryStrip()
        self.notice = NoticeBar()
        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self.notice)
        column.addWidget(self.canvas, 1)
        column.addWidget(self.gallery)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tabs)
        splitter.addWidget(center)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel("Ready")
        self.statusBar().addWidget(self.progress_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.model_picker = ModelPicker(self.registry)
        self.model_picker.model_changed.connect(self._on_model_changed)
        self.panel.generate_requested.connect(self.generate)
        self.panel.cancel_requested.connect(self.cancel)
        self.gallery.result_selected.connect(self._show_gallery_result)

    def _build_controllers(self, models_dir: Path | None) -> None:
        from studio.ui.explore_controller import ExploreController
        from studio.ui.train_controller import TrainController
        from studio.ui.upscale_controller import UpscaleController

        self.panel.keep_requested.connect(self.runner.stop_and_keep)
        self.edit = EditController(self.edit_panel, self.canvas, self.notice, self.tabs,
                                   self.gallery, self.panel, self.model_picker, self.runner)
        self.upscale = UpscaleController(self.tabs, self.canvas, self.gallery, self.runner,
                                         self.registry.extra_dirs)
        self.explore = ExploreController(self.tabs, self.canvas, self.panel, self.model_picker,
                                         self.runner)
        self.train = TrainController(self.tabs, self.model_picker, self.runner, models_dir)

    def _build_queue_dock(self) -> None:
        self.queue_panel = QueuePanel(self.queue, self.runner.backend, self.submit_job)
        self.queue_dock = QDockWidget("Queue", self)
        self.queue_dock.setObjectName("queueDock")
        self.queue_dock.setWidget(self.queue_panel)
        self.queue_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                                    | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.queue_dock)
        toggle = self.queue_dock.toggleViewAction()
        toggle.setText("Queue")
        self.view_menu.addAction(toggle)

    def _build_actions(self) -> None:
        toolbar = QToolBar("Main")
        toolbar.setMovable(False)
        toolbar.setIconSize(QSize(16, 16))
        self.addToolBar(toolbar)
        toolbar.addWidget(QLabel(" Model "))
        toolbar.addWidget(self.model_picker)
        toolbar.addAction("Refresh", self.refresh_models)
        toolbar.addSeparator()
        fit = toolbar.addAction("Fit", self.canvas.fit)
        fit.setShortcut(QKeySequence("Ctrl+0"))
        actual = toolbar.addAction("100%", self.canvas.set_actual_size)
        actual.setShortcut(QKeySequence("Ctrl+1"))
        toolbar.addAction("Zoom in", lambda: self.canvas.zoom_by(1.25)).setShortcut(
            QKeySequence.StandardKey.ZoomIn)
        toolbar.addAction("Zoom out", lambda: self.canvas.zoom_by(0.8)).setShortcut(
            QKeySequence.StandardKey.ZoomOut)
        self._build_menus()
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.generate)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.cancel)
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=lambda: self.edit.paste())
        QShortcut(QKeySequence.StandardKey.Undo, self, activated=lambda: self._mask_key("undo"))
        QShortcut(QKeySequence("Ctrl+Shift+Z"), self, activated=lambda: self._mask_key("redo"))
        QShortcut(QKeySequence("["), self, activated=lambda: self._mask_key("smaller"))
        QShortcut(QKeySequence("]"), self, activated=lambda: self._mask_key("larger"))

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("Add model folder…", self.add_model_folder)
        file_menu.addAction("Open outputs folder", self.open_outputs)
        file_menu.addSeparator()
        quit_action = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(lambda: self.window().close())  # the frame, if in one
        file_menu.addAction(quit_action)
        settings_menu = self.menuBar().addMenu("&Settings")
        settings_menu.addAction("Engine…", self.choose_engine)
        settings_menu.addAction("Reset settings", self.reset_settings)
        self.view_menu = self.menuBar().addMenu("&View")
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("Tips", self._show_tips)

    def _connect_engine(self) -> None:
        self.signals.started.connect(self._on_started)
        self.signals.progress.connect(self._on_progress)
        self.signals.preview.connect(self._on_preview)
        self.signals.result.connect(self._on_result)
        self.signals.finished.connect(self._on_finished)
        self.signals.failed.connect(self._on_failed)
        self.signals.cancelled.connect(self._on_cancelled)
        self.signals.status.connect(self.progress_label.setText)
        self.signals.queued.connect(lambda *_: self._show_queue_position())

    def choose_engine(self) -> None:
        """Settings → Engine: Local or Remote (the switch itself is composed in studio.app)."""
        from studio.ui.engine_settings import choose_engine

        choose_engine(self, self.settings, getattr(self, "engine_switch", None))

    # ----- models -------------------------------------------------------------------------
    def refresh_models(self) -> None:
        if not self.model_picker.refresh():
            self._generate_hint = self.registry.describe_search()
            self.canvas.clear(self._generate_hint)
            self.notice.show_message(self.registry.describe_search(), "warning")
        else:
            self._generate_hint = GENERATE_HINT
        self._show_tab_hint()

    def _show_tab_hint(self) -> None:
        """The empty canvas says what the current tab needs first."""
        hints = {self.edit_panel: EDIT_HINT, self.upscale.panel: UPSCALE_HINT}
        self.canvas.set_placeholder(hints.get(self.tabs.currentWidget(), self._generate_hint))

    def selected_model(self) -> ModelEntry | None:
        return self.model_picker.selected()

    def _on_model_changed(self, entry: ModelEntry | None = None) -> None:
        entry = entry or self.selected_model()
        if entry is None:
            return
        size = native_resolution(entry.path)
        if size:
            self.panel.set_native_size(size)
            self.edit_panel.work_resolution.setValue(size)
        self.panel.set_model_size(size, cascade=entry.embedded)
        self.panel.apply_model_defaults(model_defaults(entry.path))
        expansions = load_expansions(entry.path)
        self.panel.prompt.set_names(list(expansions))
        self.queue_panel.set_expansions(expansions)
        self.progress_label.setText(f"Model: {entry.name}")

    def add_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of diffusers models")
        if folder:
            self.registry.extra_dirs.append(Path(folder))
            if self.settings:
                self.settings.set_model_dirs(self.registry.extra_dirs)
            self.refresh_models()

    # ----- jobs ---------------------------------------------------------------------------
    def _mask_key(self, action: str) -> None:
        """Edit-tab keys work whatever has focus; text boxes keep them (they accept the
        ShortcutOverride, so this only runs for them if one did not)."""
        if self.tabs.currentWidget() is not self.edit_panel or typing_focus():
            return
        if action in ("smaller", "larger"):
            self.canvas.step_brush(action == "larger")
        else:
            self.edit.mask_action(action)

    def generate(self) -> int | None:
        """Run the current tab's job (Ctrl+Enter): generate, or the Edit tab's edit."""
        if self.tabs.currentWidget() is self.edit_panel:
            return self.edit.run()
        entry = self.selected_model()
        if entry is None:
            self.notice.show_message(self.registry.describe_search(), "warning")
            return None
        return self.submit_job(self.panel.snapshot(str(entry.path), entry.name))

    def submit_job(self, request: Request) -> int | None:
        """Validate and queue any request; returns its id (None, with a notice, if invalid)."""
        return self.runner.submit(request)

    def cancel(self) -> None:
        if self.runner.active_count:
            self.runner.cancel_all()
            self.progress_label.setText("Cancelling…")

    def _show_queue_position(self) -> None:
        count = self.runner.active_count
        self.panel.set_running(count > 0)
        if self.current_job is not None and count > 1:
            self.progress_label.setText(f"Queued ({count - 1} waiting)")

    def _job_label(self, job_id: int) -> str:
        """'Job 2 of 5 · ' while more than one job is live."""
        place = self.queue.position(job_id)
        return f"Job {place[0]} of {place[1]} · " if place and place[1] > 1 else ""

    def _on_started(self, job_id: int, request: Request) -> None:
        self.current_job = job_id
        self._job_started_at = time.monotonic()
        self.progress.setValue(0)
        self.progress_label.setText(self._job_label(job_id) + "Loading model…")

    def _on_preview(self, job_id: int, step: int, total: int, image: object) -> None:
        record = self.queue.get(job_id)
        if record is None or job_id != self.current_job:
            return
        request = record.request
        if isinstance(image, RegionPreview):
            left, top, right, bottom = image.box
            self.canvas.show_region_preview(qimage_from_rgba(image.rgba),
                                            QRect(left, top, right - left, bottom - top))
        elif image is not None:
            size = getattr(request, "output_size", None)  # Hires. fix: the final size
            if size is None:
                size = getattr(request, "width", 0), getattr(request, "height", 0)
            target = QSize(*size)
            self.canvas.show_preview(qimage_from_array(image), target)

    def _on_progress(self, event: JobProgress) -> None:
        """The status bar follows the engine's own step count and ETA for the running job."""
        record = self.queue.get(event.job_id)
        if record is None or event.job_id != self.current_job:
            return
        fraction = progress_fraction(event.step, event.total, event.image, event.images)
        self.progress.setValue(round(fraction * 100))
        self.progress_label.setText(self._job_label(event.job_id)
                                    + self._step_text(record.request, event))

    def _step_text(self, request: Request, event: JobProgress) -> str:
        if isinstance(request, UpscaleRequest):
            from studio.ui.upscale_panel import describe_progress

            return f"Upscale · {describe_progress(request, event.step)}"
        text = describe_steps(event.step, event.total, event.image, event.images, event.eta_s)
        final = event.step >= event.total and isinstance(request, GenerateRequest)
        return text + (" · decoding…" if final else "")

    def _on_result(self, result: ImageResult) -> None:
        image = qimage_from_pil(result.image)
        self.canvas.set_image(image, infotext=result.infotext)
        self.gallery.add_result(result, image, result.infotext)
        if result.save_error:
            self.notice.show_message(result.save_error, "error")

    def _on_finished(self, job_id: int, results: list[ImageResult]) -> None:
        self._end_job(job_id)
        elapsed = format_duration(time.monotonic() - self._job_started_at)
        saved = [r.path for r in results if r.path]
        where = f" · saved {saved[-1].name}" if saved else ""
        self.progress.setValue(100)
        self.progress_label.setText(f"Done in {elapsed}{where}")

    def _on_failed(self, job_id: int, message: str) -> None:
        if job_id == self.current_job:
            self._drop_preview()
        self._end_job(job_id)
        self.progress.setValue(0)
        self.progress_label.setText("Failed")
        self.notice.show_message(message, "error", self._failure_actions(job_id))

    def _failure_actions(self, job_id: int) -> list:
        """A job that failed on a LoRA can run again without the LoRAs that do not load."""
        record = self.queue.get(job_id)
        request = record.request if record else None
        if (record is not None and isinstance(request, GenerateRequest)
                and record.cause == CAUSE_LORA
                and not request.skip_bad_loras):
            retry = replace(request, skip_bad_loras=True)
            return [("Run without it", lambda: self.submit_job(retry))]
        return []

    def _on_cancelled(self, job_id: int) -> None:
        was_running = job_id == self.current_job
        if was_running:
            self._drop_preview()
        self._end_job(job_id)
        if was_running or self.current_job is None:
            self.progress.setValue(0)
            self.progress_label.setText("Cancelled")

    def _end_job(self, job_id: int) -> None:
        if self.current_job == job_id:
            self.current_job = None
        self.panel.set_running(self.runner.active_count > 0)

    def _show_gallery_result(self, index: int) -> None:
        result = self.gallery.results[index]
        self.canvas.set_image(qimage_from_pil(result.image),  # type: ignore[attr-defined]
                              infotext=result.infotext)  # type: ignore[attr-defined]

    def _drop_preview(self) -> None:
        """A job ended without a result: show what the gallery selects, not a half preview."""
        if not self.canvas.is_preview:
            return
        index = self.gallery.selected_index()
        if index is not None:
            self._show_gallery_result(index)
        else:
            self.canvas.drop_preview()

    # ----- misc ---------------------------------------------------------------------------
    def open_outputs(self) -> None:
        self.outputs_root.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.outputs_root)))

    def _show_tips(self) -> None:
        QMessageBox.information(self, "Tips", _TIPS)

    def _restore_settings(self) -> None:
        self._panel_defaults = {name: read_widgets(panel.persisted_widgets())
                                for name, panel in self._persisted_panels().items()}
        if self.settings is None:
            self.refresh_models()
            return
        known = {p.resolve() for p in self.registry.extra_dirs}
        self.registry.extra_dirs += [p for p in self.settings.model_dirs()
                                     if p.resolve() not in known]
        self.refresh_models()
        index = self.model_picker.findText(self.settings.last_model())
        if index >= 0:
            self.model_picker.setCurrentIndex(index)
        values = self.settings.panel_values()
        if values is not None:
            self.panel.apply_values(values)
        for name, panel in self._persisted_panels().items():
            write_widgets(panel.persisted_widgets(), self.settings.section(name))
        geometry = self.settings.geometry()
        if geometry is not None and self.isWindow():  # a WindowFrame restores its own
            self.restoreGeometry(geometry)

    def _persisted_panels(self) -> dict[str, EditPanel | UpscalePanel]:
        return {"edit": self.edit_panel, "upscale": self.upscale.panel}

    def save_settings(self) -> None:
        if self.settings is None:
            return
        self.settings.set_panel_values(self.panel.values())
        for name, panel in self._persisted_panels().items():
            self.settings.set_section(name, read_widgets(panel.persisted_widgets()))
        self.settings.set_geometry(self.window().saveGeometry())
        self.settings.set_last_model(self.model_picker.currentText())
        self.settings.set_model_dirs(self.registry.extra_dirs)
        self.settings.sync()

    def reset_settings(self) -> None:
        if self.settings is not None:
            self.settings.reset()
        self.panel.apply_values(PromptPanel().values())
        for name, panel in self._persisted_panels().items():
            write_widgets(panel.persisted_widgets(), self._panel_defaults[name])
        self._on_model_changed()

    def closeEvent(self, event) -> None:  # noqa: N802, ANN001
        if self.confirm_close and self.runner.busy:
            answer = QMessageBox.question(
                self, "Generation running",
                "A generation is still running. Cancel it and quit?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.save_settings()
        if self.queue_keeper is not None:
            self.queue_keeper.freeze()  # jobs still queued are offered at the next start
        self.runner.cancel_all()
        event.accept()


_TIPS = (
    "Ctrl+Enter generates, Esc cancels.\n"
    "Unconditioned generation: leave the prompt empty and set guidance to 1.\n"
    "Seed 'Random' draws a new seed each time; ♻ reuses the last one.\n"
    "Mouse wheel zooms the canvas, drag pans, double-click fits.\n"
    "Every image is saved to the outputs folder with its parameters before it is shown."
)
