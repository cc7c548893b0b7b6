"""LocalBackend: the in-process engine worker behind the backend interface."""

from __future__ import annotations

import threading
from collections.abc import Callable

from studio.core.backend import (
    EngineStatus,
    EventHub,
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
    Listener,
    Request,
)
from studio.core.progress import ProgressTracker
from studio.core.records import ResultSaver
from studio.engine.worker import ContextFactory, EngineWorker, default_context_factory


class _TypedEvents:
    """The worker's callbacks turned into typed events, with progress and an ETA per job."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self._lock = threading.Lock()
        self._trackers: dict[int, ProgressTracker] = {}

    def job_started(self, job_id: int, request: object) -> None:
        tracker = ProgressTracker()
        tracker.reset(int(getattr(request, "batch_count", 1) or 1))
        with self._lock:
            self._trackers[job_id] = tracker
        self.hub.publish(JobStarted(job_id, request))  # type: ignore[arg-type]

    def job_progress(self, job_id: int, step: int, total: int) -> None:
        with self._lock:
            tracker = self._trackers.get(job_id)
        if tracker is None:
            self.hub.publish(JobProgress(job_id, step, total))
            return
        tracker.update(step, total)
        self.hub.publish(JobProgress(job_id, step, total, tracker.eta_seconds(),
                                     tracker.image_index, tracker.images))

    def job_preview(self, job_id: int, step: int, total: int, image: object) -> None:
        self.job_progress(job_id, step, total)
        self.hub.publish(JobPreview(job_id, step, total, image))

    def job_result(self, result: object) -> None:
        job_id = int(getattr(result, "job_id", 0))
        with self._lock:
            tracker = self._trackers.get(job_id)
        if tracker is not None and getattr(result, "upscaled_by", 1) == 1:
            tracker.next_image()
        self.hub.publish(JobResult(job_id, result))

    def job_data(self, job_id: int, payload: object) -> None:
        self.hub.publish(JobData(job_id, payload))

    def job_finished(self, job_id: int, results: object) -> None:
        self._end(job_id)
        self.hub.publish(JobFinished(job_id, tuple(results or ())))  # type: ignore[arg-type]

    def job_failed(self, job_id: int, message: str, cause: str = "") -> None:
        self._end(job_id)
        self.hub.publish(JobFailed(job_id, message, cause))

    def job_cancelled(self, job_id: int) -> None:
        self._end(job_id)
        self.hub.publish(JobCancelled(job_id))

    def engine_status(self, text: str) -> None:
        self.hub.publish(EngineStatus(0, text))

    def _end(self, job_id: int) -> None:
        with self._lock:
            self._trackers.pop(job_id, None)


class LocalBackend:
    """Runs jobs on one long-lived worker thread in this process (GUI and CLI alike)."""

    def __init__(self, saver: ResultSaver,
                 context_factory: ContextFactory = default_context_factory) -> None:
        self.hub = EventHub()
        self.worker = EngineWorker(_TypedEvents(self.hub), saver, context_factory)

    def start(self) -> None:
        self.worker.start()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.hub.subscribe(listener)

    def submit(self, request: Request) -> int:
        job_id = self.worker.new_id()
        self.hub.publish(JobQueued(job_id, request))  # before the worker can start it
        self.worker.enqueue(job_id, request)
        return job_id

    def cancel(self, job_id: int) -> None:
        self.worker.cancel(job_id)

    def cancel_all(self) -> None:
        self.worker.cancel_all()

    def move(self, job_id: int, position: int) -> bool:
        moved = self.worker.move(job_id, position)
        if moved:
            order = self.worker.queued_ids()
            if job_id in order:
                self.hub.publish(JobMoved(job_id, order.index(job_id), tuple(order)))
        return moved

    def stop_and_keep(self) -> None:
        self.worker.stop_and_keep()

    def set_paused(self, paused: bool) -> None:
        self.worker.set_paused(paused)

    @property
    def busy(self) -> bool:
        return self.worker.busy

    def shutdown(self, timeout: float = 10.0) -> bool:
        return self.worker.shutdown(timeout)


def run_to_end(backend: LocalBackend, request: Request,
               on_event: Callable[[JobEvent], None]) -> JobEvent:
    """Submit `request`, pass its events to `on_event` (on the worker thread), and wait.

    Returns the job's final event (finished, failed or cancelled). Used by the CLI.
    """
    done = threading.Event()
    final: list[JobEvent] = []
    job: list[int] = []
    gate = threading.RLock()  # held while submitting: no event is judged before the id is known
    early: list[JobEvent] = []

    def listen(event: JobEvent) -> None:
        with gate:
            if not job:
                early.append(event)
                return
            if event.job_id not in (0, job[0]):
                return
            on_event(event)
            if isinstance(event, JobFinished | JobFailed | JobCancelled):
                final.append(event)
                done.set()

    unsubscribe = backend.subscribe(listen)
    try:
        with gate:
            job.append(backend.submit(request))
            for event in early:
                listen(event)
        while not done.wait(0.2):
            pass
    finally:
        unsubscribe()
    return final[0]
