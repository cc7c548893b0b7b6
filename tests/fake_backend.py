"""A Backend that runs nothing: tests publish its events by hand (no torch anywhere)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from studio.core.backend import (
    FINAL_EVENTS,
    EventHub,
    JobCancelled,
    JobEvent,
    JobMoved,
    JobQueued,
    JobStarted,
    Listener,
)


class FakeBackend:
    """Records what the GUI asks for; `emit` plays the engine's part."""

    def __init__(self) -> None:
        self.hub = EventHub()
        self._ids = itertools.count(1)
        self.submitted: list[tuple[int, object]] = []
        self.cancelled: list[int] = []
        self.waiting: list[int] = []
        self.paused: list[bool] = []
        self.kept = 0
        self.running: int | None = None
        self.started = False

    def start(self) -> None:
        self.started = True

    def submit(self, request: object) -> int:
        job_id = next(self._ids)
        self.submitted.append((job_id, request))
        self.waiting.append(job_id)
        self.hub.publish(JobQueued(job_id, request))  # type: ignore[arg-type]
        return job_id

    def cancel(self, job_id: int) -> None:
        """A waiting job ends at once; the running one as the engine ends it after a step."""
        self.cancelled.append(job_id)
        if job_id in self.waiting:
            self.waiting.remove(job_id)
        self.emit(JobCancelled(job_id))

    def cancel_all(self) -> None:
        for job_id in list(self.waiting) + ([self.running] if self.running else []):
            self.cancel(job_id)

    def move(self, job_id: int, position: int) -> bool:
        if job_id not in self.waiting:
            return False
        self.waiting.remove(job_id)
        self.waiting.insert(position, job_id)
        self.hub.publish(JobMoved(job_id, position, tuple(self.waiting)))
        return True

    def stop_and_keep(self) -> None:
        self.kept += 1

    def set_paused(self, paused: bool) -> None:
        self.paused.append(paused)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.hub.subscribe(listener)

    @property
    def busy(self) -> bool:
        return bool(self.waiting) or self.running is not None

    def shutdown(self, timeout: float = 10.0) -> bool:
        return True

    def emit(self, event: JobEvent) -> None:
        """Publish an event as the engine would (from this thread)."""
        if isinstance(event, JobStarted):
            self.running = event.job_id
        if isinstance(event, FINAL_EVENTS) and self.running == event.job_id:
            self.running = None
        if isinstance(event, (JobStarted, *FINAL_EVENTS)) and event.job_id in self.waiting:
            self.waiting.remove(event.job_id)  # a running job is not waiting
        self.hub.publish(event)
