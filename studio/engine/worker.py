"""The long-lived engine thread: an ordered queue of jobs, one at a time, events out, cancel in."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from studio.core.records import ImageResult, ResultSaver

log = logging.getLogger(__name__)


class EngineEvents(Protocol):
    """What the worker and the job handlers report; LocalBackend turns it into typed events."""

    def job_started(self, job_id: int, request: object) -> None: ...
    def job_preview(self, job_id: int, step: int, total: int, image: object) -> None: ...
    def job_progress(self, job_id: int, step: int, total: int) -> None: ...
    def job_result(self, result: object) -> None: ...
    def job_data(self, job_id: int, payload: object) -> None: ...
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
        self._waiting: deque[tuple[int, object]] = deque()
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._stopping = False
        self._current: tuple[int, object] | None = None
        self._thread = threading.Thread(target=self._serve, name="studio-engine", daemon=True)
        self.context: object | None = None

    def start(self) -> None:
        self._thread.start()

    def new_id(self) -> int:
        with self._cond:
            return next(self._ids)

    def submit(self, request: object) -> int:
        """Queue a job; returns its id. Never blocks."""
        job_id = self.new_id()
        self.enqueue(job_id, request)
        return job_id

    def enqueue(self, job_id: int, request: object) -> None:
        """Queue a job under an id from `new_id`."""
        with self._cond:
            self._waiting.append((job_id, request))
            self._cond.notify()

    def queued_ids(self) -> list[int]:
        with self._cond:
            return [job_id for job_id, _ in self._waiting]

    def move(self, job_id: int, position: int) -> bool:
        """Move a waiting job to `position` (clamped) among the waiting jobs."""
        with self._cond:
            for index, item in enumerate(self._waiting):
                if item[0] == job_id:
                    del self._waiting[index]
                    position = max(0, min(position, len(self._waiting)))
                    self._waiting.insert(position, item)
                    return True
        return False

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel `job_id` (waiting or running), or the running job when None."""
        removed = False
        with self._cond:
            current = self._current
            if current and (job_id is None or current[0] == job_id):
                current[1].cancel.set()  # type: ignore[attr-defined]
                current[1].running.set()  # type: ignore[attr-defined] - a paused job wakes
            elif job_id is not None:
                before = len(self._waiting)
                self._waiting = deque(i for i in self._waiting if i[0] != job_id)
                removed = len(self._waiting) < before
        if removed:
            self.events.job_cancelled(job_id)  # type: ignore[arg-type]

    def cancel_all(self) -> None:
        with self._cond:
            waiting = [job_id for job_id, _ in self._waiting]
            self._waiting.clear()
        for job_id in waiting:
            self.events.job_cancelled(job_id)
        self.cancel()

    def stop_and_keep(self) -> None:
        """Stop the running job after this step and keep its current denoised estimate."""
        with self._cond:
            if self._current:
                self._current[1].keep.set()  # type: ignore[attr-defined]

    def set_paused(self, paused: bool) -> None:
        """Pause or resume the running job between its steps (training honours it)."""
        with self._cond:
            if self._current:
                running = self._current[1].running  # type: ignore[attr-defined]
                running.clear() if paused else running.set()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or bool(self._waiting)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything, stop the thread; True when it ended within `timeout`."""
        self.cancel_all()
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _next(self) -> tuple[int, object] | None:
        """Wait for the next job and make it current (one step, so no cancel slips between)."""
        from studio.engine.control import JobControl

        with self._cond:
            while not self._waiting and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            job_id, request = self._waiting.popleft()
            self._current = (job_id, JobControl())
            return job_id, request

    def _serve(self) -> None:
        setup_error: str | None = None
        ready = False
        while (item := self._next()) is not None:
            job_id, request = item
            if not ready:  # torch and the pipelines load when the first job needs them
                setup_error, ready = self._setup(), True
            if setup_error:
                with self._cond:
                    self._current = None
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

        with self._cond:
            control = self._current[1]  # type: ignore[index]
        try:
            run_job(job_id, request, self.context, control, self.events, self.saver)
        finally:
            with self._cond:
                self._current = None


__all__ = ["EngineWorker", "EngineEvents", "ImageResult"]
