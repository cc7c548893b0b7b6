"""Nothing lost: history dock, outputs folder, metadata restore, gallery actions, crash recovery.

Built by the composition root (`studio/app.py`) from the explicit parts it works with
(`NothingLostParts`): the host window for its dock, menus and drops, the canvas, gallery,
notice bar, panels, edit controller, model picker, status label and the engine signals.
The autosave and crash recovery themselves live in `studio/ui/work_keeper.py`.
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
)

from studio.core.autosave import Autosave, SessionMarker, Snapshot
from studio.core.history import History, HistoryEntry, IndexingSaver, mask_of
from studio.core.inpaint import mask_to_array
from studio.core.metadata import ImageParameters, read_image_parameters
from studio.core.models import ModelEntry
from studio.core.outputs import OutputFolder, clean_temp_files
from studio.core.prompts import load_expansions
from studio.core.records import ImageResult
from studio.ui.canvas import ImageCanvas
from studio.ui.edit_controller import EditController
from studio.ui.edit_panel import EditPanel
from studio.ui.engine_signals import EngineSignals
from studio.ui.gallery import GalleryStrip
from studio.ui.history_panel import HistoryPanel
from studio.ui.model_picker import ModelPicker
from studio.ui.notice import NoticeBar
from studio.ui.prompt_panel import PromptPanel
from studio.ui.qimages import qimage_from_pil
from studio.ui.result_actions import (
    apply_parameters,
    copy_parameters,
    is_image_file,
    open_containing_folder,
    save_image_as,
)
from studio.ui.work_keeper import WorkKeeper, WorkParts

log = logging.getLogger(__name__)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp)"


def open_history(root: Path, data_dir: Path, sync: bool = True) -> tuple[History | None, str]:
    """The history for `root`; its index falls back to the app data dir when `root` is
    read-only. Returns (None, reason) when neither works."""
    try:
        return History.open(root, sync=sync), ""
    except (OSError, sqlite3.Error) as first:
        try:
            return History.open(root, data_dir / "history.sqlite3", sync=sync), ""
        except (OSError, sqlite3.Error):
            return None, f"History unavailable: {first}"


def check_writable(folder: Path) -> str | None:
    """None when files can be created in `folder` (created if needed), else the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(prefix=".tmp-", dir=folder):
            pass
    except OSError as exc:
        return f"{folder} is not writable: {exc.strerror or exc}"
    return None


@dataclass(frozen=True)
class NothingLostParts:
    """What NothingLost works with, passed in explicitly."""

    host: QMainWindow  # the History dock, menus and window-wide drops live here
    canvas: ImageCanvas
    gallery: GalleryStrip
    notice: NoticeBar
    tabs: QTabWidget
    prompt_panel: PromptPanel
    edit_panel: EditPanel
    edit: EditController
    models: ModelPicker
    status: QLabel
    signals: EngineSignals
    generate: Callable[[], int | None]  # runs the Generate tab's job
    outputs_root_changed: Callable[[Path], None]


class NothingLost(QObject):
    """Owns the history, the session marker and the autosave for one main window."""

    synced = Signal(object)  # History whose catch-up indexing finished (any thread)

    def __init__(self, parts: NothingLostParts, saver: IndexingSaver, data_dir: Path,
                 settings=None, default_root: Path | None = None) -> None:  # noqa: ANN001
        super().__init__(parts.host)
        self.parts, self.host, self.saver, self.settings = parts, parts.host, saver, settings
        self.data_dir = Path(data_dir)
        self.default_root = Path(default_root or saver.outputs.root)
        self.sync_thread: threading.Thread | None = None
        self.keeper = WorkKeeper(
            WorkParts(parts.canvas, parts.gallery, parts.notice, parts.prompt_panel,
                      parts.edit_panel, parts.edit, parts.status, parts.signals),
            Autosave(self.data_dir / "autosave"), SessionMarker(self.data_dir), self)
        self.panel = HistoryPanel()
        self._build_dock()
        self._build_menus()
        self._connect()
        self.use_outputs_root(saver.outputs.root, persist=False)
        self._use_model_names(parts.models.selected())
        self.crashed = self.keeper.begin_session()

    # ----- construction ---------------------------------------------------------------------
    def _build_dock(self) -> None:
        self.dock = QDockWidget("History", self.host)
        self.dock.setObjectName("historyDock")
        self.dock.setWidget(self.panel)
        self.dock.setMinimumWidth(280)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                              | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.host.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

    def _menu(self, title: str) -> QMenu:
        """The menu bar's `title` menu; a new one goes before Help."""
        bar, help_action = self.host.menuBar(), None
        for action in bar.actions():
            name = action.text().replace("&", "")
            if action.menu() is not None and name == title:
                return action.menu()
            help_action = action if name == "Help" else help_action
        menu = QMenu(f"&{title}", bar)
        if help_action is not None:
            bar.insertMenu(help_action, menu)
        else:
            bar.addMenu(menu)
        return menu

    def _build_menus(self) -> None:
        file_menu = self._menu("File")
        first = file_menu.actions()[0] if file_menu.actions() else None
        action = file_menu.addAction("Open parameters from image…", self.open_parameters_dialog)
        file_menu.insertAction(first, action)
        self._menu("Settings").addAction("Outputs folder…", self.choose_outputs_folder)
        view = self._menu("View")
        toggle = self.dock.toggleViewAction()
        toggle.setText("History")
        view.addAction(toggle)
        history = self._menu("History")
        history.addAction("Undo delete", self.panel.undo_delete)
        history.addAction("Empty trash…", self.empty_trash)
        history.addAction("Rebuild index from images", self.rebuild_index)
        if self.settings is not None:
            visible = str(self.settings.qsettings.value("history/visible", "true"))
            self.dock.setVisible(visible != "false")
            toggle.triggered.connect(lambda on: self.settings.qsettings.setValue(
                "history/visible", "true" if on else "false"))

    def _connect(self) -> None:
        p = self.panel
        p.entry_activated.connect(self.show_entry)
        p.rerun_requested.connect(self.rerun)
        p.restore_requested.connect(lambda e: self.restore_parameters(e.path))
        p.source_requested.connect(self.use_as_source)
        p.source_with_mask_requested.connect(self.use_as_source_with_mask)
        p.save_as_requested.connect(self._save_entry_as)
        p.open_folder_requested.connect(lambda e: open_containing_folder(e.path))
        p.copy_requested.connect(lambda e: copy_parameters(e.infotext))
        p.changed.connect(self.parts.status.setText)
        self.synced.connect(self._on_synced)
        for action in self._menu("Settings").actions():
            if action.text().startswith("Reset settings"):
                action.triggered.connect(self._on_settings_reset)
        self.parts.signals.result.connect(self._on_result)
        self.parts.models.model_changed.connect(self._use_model_names)
        self.parts.canvas.image_dropped.connect(self._offer_parameters_of)
        gallery = self.parts.gallery
        gallery.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        gallery.customContextMenuRequested.connect(self._gallery_menu)
        self.host.setAcceptDrops(True)
        for widget in (self.host, self.panel, self.parts.tabs):
            widget.installEventFilter(self)
        for edit in (self.parts.prompt_panel.prompt, self.parts.prompt_panel.negative):
            edit.viewport().installEventFilter(self)

    # ----- outputs folder and history ---------------------------------------------------------
    def use_outputs_root(self, root: Path, persist: bool = True) -> bool:
        """Write new images to `root` and show its history; False (with a notice) if unusable."""
        root = Path(root).expanduser()
        problem = check_writable(root)
        if problem and persist:
            self.parts.notice.show_message(f"Outputs folder not changed: {problem}", "error")
            return False
        old = self.saver.history
        history, message = open_history(root, self.data_dir, sync=False)
        self.saver.outputs = OutputFolder(root)
        self.saver.history = history
        if old is not None and old is not history:
            old.close()
        self.parts.outputs_root_changed(root)
        if problem is None:
            clean_temp_files(root)
        if persist and self.settings is not None:
            self.settings.set_outputs_root(root)
            self.settings.sync()
        self.panel.set_history(history, message)
        self.dock.setToolTip(f"Images in {root}")
        if history is not None:
            self._start_sync(history)
        return True

    def _start_sync(self, history: History) -> None:
        """Index PNGs the index lacks (first start on an old folder) without freezing the UI."""
        def work() -> None:
            try:
                if history.sync_with_disk() != (0, 0):
                    self.synced.emit(history)
            except Exception:  # noqa: BLE001 - e.g. closed meanwhile; the next start retries
                log.exception("history catch-up failed")

        self.sync_thread = threading.Thread(target=work, name="history-sync", daemon=True)
        self.sync_thread.start()

    def _on_synced(self, history: History) -> None:
        if history is self.history:
            self.panel.refresh()

    def _on_settings_reset(self) -> None:
        if self.saver.outputs.root != self.default_root:
            self.use_outputs_root(self.default_root, persist=False)

    @property
    def history(self) -> History | None:
        return self.saver.history

    def choose_outputs_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.host, "Outputs folder",
                                                  str(self.saver.outputs.root))
        if folder and self.use_outputs_root(Path(folder)):
            self.parts.notice.show_message(f"New images go to {folder}", "info")

    def empty_trash(self, confirm: bool = True) -> int:
        """Delete the trashed images for good, after asking."""
        if self.history is None:
            return 0
        if confirm and QMessageBox.question(
                self.host, "Empty trash",
                "Delete the images in the trash for good? This cannot be undone.",
        ) != QMessageBox.StandardButton.Yes:
            return 0
        count = self.history.empty_trash()
        self.panel.refresh()
        self.parts.status.setText(f"Trash emptied: {count} images deleted")
        return count

    def rebuild_index(self) -> None:
        if self.history is not None:
            count = self.history.rebuild()
            self.panel.refresh()
            self.parts.status.setText(f"History rebuilt: {count} images")

    def _use_model_names(self, entry: ModelEntry | None) -> None:
        self.panel.set_expansions(load_expansions(entry.path) if entry is not None else {})

    def _on_result(self, result: ImageResult) -> None:
        entry = self.history.get_by_path(result.path) if self.history and result.path else None
        if entry is not None:
            self.panel.add_entry(entry)
        if result.save_error:
            self.parts.notice.show_message(
                f"{result.save_error}. The image is kept in the gallery: save it elsewhere.",
                "error", [("Save as…", lambda: self._save_result_as(result)),
                          ("Outputs folder…", self.choose_outputs_folder)])

    # ----- history entries --------------------------------------------------------------------
    def _load(self, entry: HistoryEntry) -> Image.Image | None:
        try:
            with Image.open(entry.path) as image:
                image.load()
                return image.copy()
        except Exception as exc:  # noqa: BLE001 - a vanished/broken file is a notice
            self.parts.notice.show_message(f"Could not open {entry.path.name}: {exc}", "error")
            return None

    def show_entry(self, entry: HistoryEntry) -> None:
        image = self._load(entry)
        if image is not None:
            self.parts.canvas.set_image(qimage_from_pil(image), infotext=entry.infotext)
            self.last_image = image

    def use_as_source(self, entry: HistoryEntry) -> None:
        image = self._load(entry)
        if image is None:
            return
        self.parts.edit.set_source(image, entry.path.name)

    def use_as_source_with_mask(self, entry: HistoryEntry) -> None:
        """The image as the edit source and its saved `NAME.mask.png` as the mask."""
        self.use_as_source(entry)
        edit, mask_path = self.parts.edit, mask_of(entry.path)
        if edit.source is None or edit.canvas.mask is None or not mask_path.is_file():
            return
        try:
            with Image.open(mask_path) as mask:
                edit.canvas.mask.set_pixels(mask_to_array(mask, edit.source.size))
        except (OSError, ValueError) as exc:
            self.parts.notice.show_message(f"Could not use {mask_path.name}: {exc}", "error")
        edit.canvas.update()
        edit.canvas.mask_changed.emit()  # the Inpaint button sees the mask

    def rerun(self, entry: HistoryEntry) -> int | None:
        """Generate again with an image's parameters; an edit result needs its source image,
        which is not stored, so its parameters are restored and the Edit tab is shown."""
        params = self.restore_parameters(entry.path)
        if params is None:
            return None
        if params.mode is not None:
            edit_panel = self.parts.edit_panel
            edit_panel.prompt.setPlainText(params.prompt or "")
            edit_panel.negative.setPlainText(params.negative_prompt or "")
            self.parts.tabs.setCurrentWidget(edit_panel)
            self.parts.notice.show_message(
                f"{entry.path.name} was made by {params.mode} from a source image that is not "
                "stored: its settings are restored — open the source in the Edit tab and run "
                "it again.", "info")
            return None
        return self.parts.generate()

    def _save_entry_as(self, entry: HistoryEntry) -> None:
        image = self._load(entry)
        if image is not None:
            save_image_as(self.host, image, entry.infotext, entry.path.name)

    def _save_result_as(self, result: ImageResult) -> None:
        try:
            path = save_image_as(self.host, result.image, result.infotext,
                                 f"{result.job_id:05d}-{result.index}.png")
        except OSError as exc:
            self.parts.notice.show_message(f"Could not save: {exc.strerror or exc}", "error")
            return
        if path is not None:
            self.parts.status.setText(f"Saved {path}")

    def _gallery_menu(self, pos) -> None:  # noqa: ANN001
        gallery = self.parts.gallery
        item = gallery.itemAt(pos)
        if item is None:
            return
        result = gallery.results[int(item.data(Qt.ItemDataRole.UserRole))]
        menu = self.gallery_menu(result)
        menu.exec(gallery.viewport().mapToGlobal(pos))

    def gallery_menu(self, result: ImageResult) -> QMenu:
        menu = QMenu(self.host)
        menu.addAction("Save as…", lambda: self._save_result_as(result))
        folder = menu.addAction("Open containing folder",
                                lambda: open_containing_folder(result.path))  # type: ignore[arg-type]
        folder.setEnabled(result.path is not None)
        menu.addAction("Copy parameters", lambda: copy_parameters(result.infotext))
        if result.path is not None:
            menu.addAction("Restore parameters", lambda: self.restore_parameters(result.path))
        return menu

    # ----- parameters from images --------------------------------------------------------------
    def restore_parameters(self, path: Path) -> ImageParameters | None:
        """Read an image's generation parameters into the prompt panel and return them;
        None (and a warning) if it has none."""
        params = read_image_parameters(Path(path))
        if params is None or params.is_empty():
            self.parts.notice.show_message(
                f"{Path(path).name} carries no generation parameters.", "warning")
            return None
        applied = apply_parameters(self.parts.prompt_panel, params)
        if params.strength is not None:
            self.parts.edit_panel.strength.setValue(params.strength)
            applied.append("denoising strength")
        self.parts.tabs.setCurrentWidget(self.parts.prompt_panel)
        note = self._select_model(params.model)
        what = "ComfyUI workflow" if params.source == "comfyui" else "parameters"
        self.parts.notice.show_message(
            f"Restored {what} from {Path(path).name} ({', '.join(applied)}).{note}", "info")
        return params

    def _select_model(self, name: str | None) -> str:
        if not name:
            return ""
        if self.parts.models.select_name(name):
            return ""
        return f" Model “{name}” is not installed; keeping the current one."

    def open_parameters_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self.host, "Open parameters from image", "",
                                              IMAGE_FILTER)
        if name:
            self.restore_parameters(Path(name))

    def _offer_parameters_of(self, name: str) -> None:
        """An image dropped on the canvas becomes the edit source; offer its parameters too."""
        params = read_image_parameters(Path(name))
        if params is not None and not params.is_empty():
            QTimer.singleShot(0, lambda: self.parts.notice.show_message(
                f"{Path(name).name} carries generation parameters.", "info",
                [("Restore parameters", lambda: self.restore_parameters(Path(name)))]))

    def handle_drop(self, mime: QMimeData) -> bool:
        """Restore parameters from the first dropped local image; True when handled."""
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        images = [f for f in files if is_image_file(f)]
        if not images:
            return False
        self.restore_parameters(Path(images[0]))
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            mime = event.mimeData()  # type: ignore[attr-defined]
            if any(u.isLocalFile() and is_image_file(u.toLocalFile()) for u in mime.urls()):
                event.acceptProposedAction()  # type: ignore[attr-defined]
                return True
        elif kind == QEvent.Type.Drop and self.handle_drop(event.mimeData()):  # type: ignore[attr-defined]
            event.acceptProposedAction()  # type: ignore[attr-defined]
            return True
        return super().eventFilter(watched, event)

    # ----- crash safety ------------------------------------------------------------------------
    @property
    def autosave(self) -> Autosave:
        return self.keeper.autosave

    @property
    def marker(self) -> SessionMarker:
        return self.keeper.marker

    @property
    def last_image(self) -> Image.Image | None:
        return self.keeper.last_image

    @last_image.setter
    def last_image(self, image: Image.Image | None) -> None:
        self.keeper.last_image = image

    def autosave_now(self) -> bool:
        """Snapshot the canvas work if it changed since the last snapshot; True if written."""
        return self.keeper.autosave_now()

    def restore_snapshot(self, snapshot: Snapshot) -> None:
        self.keeper.restore_snapshot(snapshot)

    def end_session(self) -> None:
        """Clean exit: final autosave, close the index, remove the session marker."""
        if self.history is not None:
            self.history.close()
            self.saver.history = None
        self.keeper.end_session()


__all__ = ["NothingLost", "NothingLostParts", "open_history", "check_writable"]
