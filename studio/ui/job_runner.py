"""The GUI's one door to the backend: validate, submit, cancel; the queue model follows events."""

from __future__ import annotations

from PySide6.QtCore import QObject

from studio.core.backend import Backend, Request
from studio.core.job_queue import JobQueue
from studio.ui.engine_signals import EngineSignals
from studio.ui.notice import NoticeBar


class JobRunner(QObject):
    """Owns the GUI's JobQueue (fed by every backend event, before any other slot)."""

    def __init__(self, backend: Backend, signals: EngineSignals, notice: NoticeBar,
                 queue: JobQueue | None = None) -> None:
        super().__init__()
        self.backend, self.signals, self.notice = backend, signals, notice
        self.queue = queue or JobQueue()
        signals.event.connect(self.queue.apply)

    def submit(self, request: Request) -> int | None:
        """Validate and queue `request`; None (with the reason in the notice bar) if invalid."""
        try:
            request.validate()
        except ValueError as exc:
            self.notice.show_message(str(exc), "error")
            return None
        self.notice.hide()
        return self.backend.submit(request)

    def cancel(self, job_id: int) -> None:
        self.backend.cancel(job_id)

    def cancel_all(self) -> None:
        self.backend.cancel_all()

    def stop_and_keep(self) -> None:
        self.backend.stop_and_keep()

    def set_paused(self, paused: bool) -> None:
        self.backend.set_paused(paused)

    @property
    def busy(self) -> bool:
        return self.backend.busy

    @property
    def active_count(self) -> int:
        return len(self.queue.active())
