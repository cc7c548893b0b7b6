"""The long-lived engine thread: an ordered queue of jobs, one at a time, events out, cancel in."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from studio.core.job_line import JobLine
from studio.core.records import ImageResult, ResultSaver
from studio.engine.control import JobControl

log = logging.getLogger(__name__)


class EngineEvents(Protocol):
    """What the worker and the job handlers report; LocalBackend turns it into typed events."""

    def job_started(self, job_id: int, request: object) -> None: ...
    def job_preview(self, job_id: int, step: int, total: int, image: object) -> None: ...
    def job_progress(self, job_id: int, step: int, total: int) -> None: ...
    def job_result(self, result: object) -> None: ...
    def job_data(self, job_id: int, payload: object) -> None: ...
    def job_finished(self, job_id: int, results: object) -> None: ...
    def job_failed(self, job_id: int, message: str, cause: str = "") -> None: ...
    def job_cancelled(self, job_id: int) -> None: ...
    def engine_status(self, text: str) -> None: ...


ContextFactory = Callable[[], object]


def default_context_factory() -> object:
    """Builds the torch side inside the worker thread (torch imported there, not at startup)."""
    from studio.engine.context import EngineContext

    return EngineContext.create()


@dataclass
class _Running:
    job_id: int
    request: object
    control: JobControl


class EngineWorker:
    """Owns the pipelines on one thread; `submit` queues, `cancel` flags, events report."""

    def __init__(self, events: EngineEvents, saver: ResultSaver,
                 context_factory: ContextFactory = default_context_factory) -> None:
        self.events = events
        self.saver = saver
        self._context_factory = context_factory
        self._line: JobLine[_Running] = JobLine()
        self._thread = threading.Thread(target=self._serve, name="studio-engine", daemon=True)
        self.context: object | None = None

    def start(self) -> None:
        self._thread.start()

    def new_id(self) -> int:
        return self._line.new_id()

    def submit(self, request: object) -> int:
        """Queue a job; returns its id. Never blocks."""
        job_id = self.new_id()
        self.enqueue(job_id, request)
        return job_id

    def enqueue(self, job_id: int, request: object) -> None:
        """Queue a job under an id from `new_id`."""
        self._line.put(job_id, request)

    def queued_ids(self) -> list[int]:
        return self._line.ids()

    def move(self, job_id: int, position: int) -> bool:
        """Move a waiting job to `position` (clamped) among the waiting jobs."""
        return self._line.move(job_id, position) is not None

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel `job_id` (waiting or running), or the running job when None."""
        removed, running = self._line.withdraw(job_id)
        if running is not None:
            running.control.cancel.set()
            running.control.running.set()  # a paused job wakes to see the cancel
        elif removed:
            self.events.job_cancelled(job_id)  # type: ignore[arg-type]

    def cancel_all(self) -> None:
        waiting, _running = self._line.clear()
        for job_id in waiting:
            self.events.job_cancelled(job_id)
        self.cancel()

    def stop_and_keep(self) -> None:
        """Stop the running job after this step and keep its current denoised estimate."""
        running = self._line.running()
        if running is not None:
            running.control.keep.set()

    def set_paused(self, paused: bool) -> None:
        """Pause or resume the running job between its steps (training honours it)."""
        running = self._line.running()
        if running is not None:
            flag = running.control.running
            flag.clear() if paused else flag.set()

    @property
    def busy(self) -> bool:
        return self._line.busy

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything, stop the thread; True when it ended within `timeout`."""
        self.cancel_all()
        return self._line.stop_and_join(self._thread, timeout)

    def _serve(self) -> None:
        setup_error: str | None = None
        ready = False
        while (running := self._line.take(_start)) is not None:
            if not ready:  # torch and the pipelines load when the first job needs them
                setup_error, ready = self._setup(), True
            try:
                if setup_error:
                    self.events.job_failed(running.job_id, setup_error)
                else:
                    self._run_job(running)
            finally:
                self._line.done()

    def _setup(self) -> str | None:
        try:
            self.context = self._context_factory()
        except Exception as exc:  # the engine must keep answering, with a clear message
            log.exception("engine setup failed")
            return f"The engine could not start: {exc}"
        return None

    def _run_job(self, running: _Running) -> None:
        from studio.engine.jobs import run_job

        run_job(running.job_id, running.request, self.context, running.control, self.events,
                self.saver)


def _start(job_id: int, request: object) -> _Running:
    return _Running(job_id, request, JobControl())


__all__ = ["EngineWorker", "EngineEvents", "ImageResult"]
