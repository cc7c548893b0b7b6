"""The long-lived engine thread: a FIFO of jobs, one at a time, events out, cancel in."""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from studio.core.records import ImageResult, ResultSaver

log = logging.getLogger(__name__)


class EngineEvents(Protocol):
    """What the worker reports; EngineSignals implements it for the GUI, the CLI its own."""

    def job_started(self, job_id: int, request: object) -> None: ...
    def job_preview(self, job_id: int, step: int, total: int, image: object) -> None: ...
    def job_result(self, result: object) -> None: ...
    def job_finished(self, job_id: int, results: object) -> None: ...
    def job_failed(self, job_id: int, message: str) -> None: ...
    def job_cancelled(self, job_id: int) -> None: ...
    def engine_status(self, text: str) -> None: ...


ContextFactory = Callable[[], object]


def default_context_factory() -> object:
    """Builds the torch side inside the worker thread (torch imported there, not at startup)."""
    from studio.engine.context import EngineContext

    return EngineContext.create()


class EngineWorker:
    """Owns the pipelines on one thread; `submit` queues, `cancel` flags, events report."""

    def __init__(self, events: EngineEvents, saver: ResultSaver,
                 context_factory: ContextFactory = default_context_factory) -> None:
        self.events = events
        self.saver = saver
        self._context_factory = context_factory
        self._queue: queue.Queue[tuple[int, object] | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._cancelled_queued: set[int] = set()
        self._pending: set[int] = set()
        self._current: tuple[int, object] | None = None
        self._thread = threading.Thread(target=self._serve, name="studio-engine", daemon=True)
        self.context: object | None = None

    def start(self) -> None:
        self._thread.start()

    def submit(self, request: object) -> int:
        """Queue a job; returns its id. Never blocks."""
        with self._lock:
            job_id = next(self._ids)
            self._pending.add(job_id)
        self._queue.put((job_id, request))
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel `job_id` (queued or running), or the running job when None."""
        with self._lock:
            current = self._current
            if current and (job_id is None or current[0] == job_id):
                current[1].cancel.set()  # type: ignore[attr-defined]
            elif job_id is not None and job_id in self._pending:
                self._cancelled_queued.add(job_id)

    def cancel_all(self) -> None:
        with self._lock:
            self._cancelled_queued.update(self._pending)
        self.cancel()

    def stop_and_keep(self) -> None:
        """Stop the running job after this step and keep its current denoised estimate."""
        with self._lock:
            if self._current:
                self._current[1].keep.set()  # type: ignore[attr-defined]

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._current is not None or bool(self._pending)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything, stop the thread; True when it ended within `timeout`."""
        self.cancel_all()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _serve(self) -> None:
        setup_error = self._setup()
        while (item := self._queue.get()) is not None:
            job_id, request = item
            with self._lock:
                self._pending.discard(job_id)
                skip = job_id in self._cancelled_queued
                self._cancelled_queued.discard(job_id)
            if skip:
                self.events.job_cancelled(job_id)
            elif setup_error:
                self.events.job_failed(job_id, setup_error)
            else:
                self._run_job(job_id, request)

    def _setup(self) -> str | None:
        try:
            self.context = self._context_factory()
        except Exception as exc:  # the engine must keep answering, with a clear message
            log.exception("engine setup failed")
            return f"The engine could not start: {exc}"
        return None

    def _run_job(self, job_id: int, request: object) -> None:
        from studio.engine.jobs import run_job
        from studio.engine.runner import JobControl

        control = JobControl()
        with self._lock:
            self._current = (job_id, control)
        try:
            run_job(job_id, request, self.context, control, self.events, self.saver)
        finally:
            with self._lock:
                self._current = None


__all__ = ["EngineWorker", "EngineEvents", "ImageResult"]
