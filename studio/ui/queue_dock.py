"""The Queue dock: every job with its kind, prompt, state, progress and a thumbnail when done."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.backend import Backend, Request
from studio.core.job_queue import JobQueue, JobRecord, JobState
from studio.core.progress import describe_steps
from studio.core.prompts import short_prompt
from studio.ui.qimages import qimage_from_pil

_ROLE_JOB = Qt.ItemDataRole.UserRole
THUMB = 48
_STATE_MARK = {
    JobState.QUEUED: "…", JobState.RUNNING: "▶", JobState.DONE: "✔",
    JobState.FAILED: "✖", JobState.CANCELLED: "⊘",  # glyphs every desktop font has
}


def describe(record: JobRecord, names: Mapping[str, str] | None = None) -> str:
    """Two lines: kind and prompt (the user's words: `names` maps the model's expanded
    captions back to the names typed), then the state with progress or the failure reason."""
    summary = short_prompt(record.summary, names or {})
    if len(summary) > 60:
        summary = summary[:57] + "…"
    state = record.state.value.capitalize()
    if record.state is JobState.RUNNING and record.total:
        state += " · " + describe_steps(record.step, record.total, record.image,
                                        record.images, record.eta_s)
    elif record.state is JobState.FAILED and record.message:
        state += f": {record.message[:80]}"
    elif record.state is JobState.DONE and record.results:
        state += f" · {record.results} image{'s' if record.results > 1 else ''}"
    return f"{_STATE_MARK[record.state]} {record.kind}: {summary}\n{state}"


class QueuePanel(QWidget):
    """The list plus per-job actions on the selected job (bound to a JobQueue)."""

    def __init__(self, queue: JobQueue, backend: Backend,
                 resubmit: Callable[[Request], object]) -> None:
        super().__init__()
        self.queue, self.backend, self.resubmit = queue, backend, resubmit
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.cancel_button = QPushButton("Cancel")
        self.up_button = QPushButton("▲")
        self.up_button.setToolTip("Run this job earlier")
        self.down_button = QPushButton("▼")
        self.down_button.setToolTip("Run this job later")
        self.retry_button = QPushButton("Retry")
        self.clear_button = QPushButton("Clear finished")
        buttons = QHBoxLayout()
        for button in (self.cancel_button, self.up_button, self.down_button, self.retry_button):
            buttons.addWidget(button)
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self.list, 1)
        column.addLayout(buttons)
        column.addWidget(self.clear_button)
        self._thumbs: dict[tuple[int, int], QIcon] = {}
        self._cancelling: set[int] = set()  # asked to cancel; the event may still be on its way
        self.names: dict[str, str] = {}  # model caption -> the short name that expands to it
        self.cancel_button.clicked.connect(lambda: self._act(self.cancel_job))
        self.up_button.clicked.connect(lambda: self._act(lambda j: self.move_job(j, -1)))
        self.down_button.clicked.connect(lambda: self._act(lambda j: self.move_job(j, 1)))
        self.retry_button.clicked.connect(lambda: self._act(self.retry_job))
        self.clear_button.clicked.connect(self.clear_finished)
        self.list.currentRowChanged.connect(lambda _row: self._update_buttons())
        queue.subscribe(lambda _job: self.refresh())
        self.refresh()

    # ----- actions ------------------------------------------------------------------------
    def selected_job(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(_ROLE_JOB)) if item is not None else None

    def select_job(self, job_id: int) -> None:
        for row in range(self.list.count()):
            if int(self.list.item(row).data(_ROLE_JOB)) == job_id:
                self.list.setCurrentRow(row)
                return

    def _act(self, action: Callable[[int], object]) -> None:
        job = self.selected_job()
        if job is not None:
            action(job)

    def cancel_job(self, job_id: int) -> None:
        record = self.queue.get(job_id)
        if record is not None and not record.state.ended:
            self._cancelling.add(job_id)
            self.backend.cancel(job_id)

    def move_job(self, job_id: int, delta: int) -> bool:
        """Move a queued job `delta` places (negative: earlier)."""
        queued = [r.job_id for r in self.queue.queued() if r.job_id not in self._cancelling]
        if job_id not in queued:
            return False
        return self.backend.move(job_id, max(0, queued.index(job_id) + delta))

    def retry_job(self, job_id: int) -> None:
        record = self.queue.get(job_id)
        if record is not None and record.state in (JobState.FAILED, JobState.CANCELLED):
            self.resubmit(record.request)

    def clear_finished(self) -> None:
        self.queue.clear_finished()
        live = {r.job_id for r in self.queue.records()}
        self._thumbs = {key: icon for key, icon in self._thumbs.items() if key[0] in live}

    # ----- view ---------------------------------------------------------------------------
    def set_expansions(self, expansions: Mapping[str, str]) -> None:
        """The current model's prompt expansions: rows show the short names users type."""
        self.names = {" ".join(caption.split()): name for name, caption in
                      reversed(list(expansions.items()))}
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the rows from the queue (it holds tens of jobs: cheap), keeping selection."""
        selected = self.selected_job()
        self.list.blockSignals(True)
        self.list.clear()
        for record in self.queue.records():
            item = QListWidgetItem(self._icon(record), describe(record, self.names))
            item.setData(_ROLE_JOB, record.job_id)
            item.setToolTip(record.message or record.summary)
            self.list.addItem(item)
        self.list.blockSignals(False)
        if selected is not None:
            self.select_job(selected)
        self._update_buttons()

    def _icon(self, record: JobRecord) -> QIcon:
        key = (record.job_id, record.results)
        if key not in self._thumbs:
            image = getattr(record.result, "image", None)
            if image is None:
                return QIcon()
            thumb = image.copy()
            thumb.thumbnail((THUMB, THUMB))
            self._thumbs[key] = QIcon(QPixmap.fromImage(qimage_from_pil(thumb)))
        return self._thumbs[key]

    def _update_buttons(self) -> None:
        job = self.selected_job()
        record = self.queue.get(job) if job is not None else None
        state = record.state if record else None
        queued = [r.job_id for r in self.queue.queued() if r.job_id not in self._cancelling]
        self.cancel_button.setEnabled(state in (JobState.QUEUED, JobState.RUNNING))
        self.up_button.setEnabled(job in queued and queued.index(job) > 0)
        self.down_button.setEnabled(job in queued and queued.index(job) < len(queued) - 1)
        self.retry_button.setEnabled(state in (JobState.FAILED, JobState.CANCELLED))
        self.clear_button.setEnabled(any(r.state.ended for r in self.queue.records()))
