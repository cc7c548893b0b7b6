"""The backend's events as Qt signals on the GUI thread (create this object on the GUI thread)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal

from studio.core.backend import (
    Backend,
    EngineStatus,
    JobCancelled,
    JobData,
    JobEvent,
    JobFailed,
    JobFinished,
    JobMoved,
    JobPreview,
    JobProgress,
    JobQueued,
    JobResult,
    JobStarted,
)


class EngineSignals(QObject):
    """Subscribes to a backend from any thread and re-emits each event on the GUI thread.

    `event` carries every typed event; the per-kind signals below carry their fields.
    """

    event = Signal(object)  # any JobEvent, in order
    queued = Signal(int, object)  # job id, request
    moved = Signal(int, int)  # job id, new position among the queued jobs
    started = Signal(int, object)  # job id, request
    progress = Signal(object)  # JobProgress: step, total, ETA, image of the batch
    preview = Signal(int, int, int, object)  # job id, step, total, HxWx3 uint8 ndarray
    result = Signal(object)  # ImageResult (already saved)
    finished = Signal(int, object)  # job id, list[ImageResult]
    failed = Signal(int, str)  # job id, message
    cancelled = Signal(int)  # job id
    status = Signal(str)  # engine-level status text (model loading, device)
    data = Signal(int, object)  # job id, a job kind's non-image payload
    _incoming = Signal(object)

    def __init__(self, backend: Backend | None = None) -> None:
        super().__init__()
        self._unsubscribe: Callable[[], None] | None = None
        # queued even when emitted on the GUI thread: events never re-enter a caller
        self._incoming.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        if backend is not None:
            self.attach(backend)

    def attach(self, backend: Backend) -> None:
        """Listen to `backend` (replacing any earlier one)."""
        self.detach()
        self._unsubscribe = backend.subscribe(self._incoming.emit)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _dispatch(self, event: JobEvent) -> None:
        self.event.emit(event)
        match event:
            case JobQueued():
                self.queued.emit(event.job_id, event.request)
            case JobMoved():
                self.moved.emit(event.job_id, event.position)
            case JobStarted():
                self.started.emit(event.job_id, event.request)
            case JobProgress():
                self.progress.emit(event)
            case JobPreview():
                self.preview.emit(event.job_id, event.step, event.total, event.image)
            case JobResult():
                self.result.emit(event.result)
            case JobData():
                self.data.emit(event.job_id, event.payload)
            case JobFinished():
                self.finished.emit(event.job_id, list(event.results))
            case JobFailed():
                self.failed.emit(event.job_id, event.message)
            case JobCancelled():
                self.cancelled.emit(event.job_id)
            case EngineStatus():
                self.status.emit(event.text)
