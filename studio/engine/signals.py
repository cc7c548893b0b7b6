"""Qt signals carrying engine events to the GUI thread (create this object on the GUI thread)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class EngineSignals(QObject):
    """GUI-owned signal hub; the worker calls these methods from its own thread."""

    started = Signal(int, object)  # job id, GenerateRequest
    preview = Signal(int, int, int, object)  # job id, step, total, HxWx3 uint8 ndarray
    result = Signal(object)  # ImageResult (already saved)
    finished = Signal(int, object)  # job id, list[ImageResult]
    failed = Signal(int, str)  # job id, message
    cancelled = Signal(int)  # job id
    status = Signal(str)  # engine-level status text (model loading, device)
    data = Signal(int, object)  # job id, a feature's non-image payload (explorer)

    def job_started(self, job_id: int, request: object) -> None:
        self.started.emit(job_id, request)

    def job_preview(self, job_id: int, step: int, total: int, image: object) -> None:
        self.preview.emit(job_id, step, total, image)

    def job_result(self, result: object) -> None:
        self.result.emit(result)

    def job_finished(self, job_id: int, results: object) -> None:
        self.finished.emit(job_id, results)

    def job_failed(self, job_id: int, message: str) -> None:
        self.failed.emit(job_id, message)

    def job_cancelled(self, job_id: int) -> None:
        self.cancelled.emit(job_id)

    def job_data(self, job_id: int, payload: object) -> None:
        self.data.emit(job_id, payload)

    def engine_status(self, text: str) -> None:
        self.status.emit(text)
