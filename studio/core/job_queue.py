"""The job queue as the user sees it: one record per job, driven by backend events (Qt-free).

`JobQueue.apply(event)` updates the records; listeners hear which job changed. The queued
jobs' requests are persisted atomically (`QueueStore`) so a crash or a quit with jobs waiting
can offer them back at the next start.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from studio.core.backend import (
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobMoved,
    JobProgress,
    JobQueued,
    JobResult,
    JobStarted,
    Request,
    request_kind,
    request_summary,
)
from studio.core.outputs import TEMP_PREFIX

log = logging.getLogger(__name__)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobRecord:
    """One job's state; `thumbnail` is the last result (an ImageResult) once there is one."""

    job_id: int
    request: Request
    state: JobState = JobState.QUEUED
    step: int = 0
    total: int = 0
    eta_s: float | None = None
    image: int = 0  # which image of a batch the steps are for (0-based), of `images`
    images: int = 1
    message: str = ""
    cause: str = ""  # why it failed (JobFailed.cause)
    result: object | None = None
    results: int = 0

    @property
    def kind(self) -> str:
        return request_kind(self.request)

    @property
    def summary(self) -> str:
        return request_summary(self.request)


QueueListener = Callable[[int], None]  # the job id whose record changed (0: the order)


class JobQueue:
    """Records in display order: running first, then queued in run order, then ended jobs."""

    def __init__(self) -> None:
        self._records: dict[int, JobRecord] = {}
        self._order: list[int] = []  # submission order, rearranged by JobMoved
        self._listeners: list[QueueListener] = []

    def subscribe(self, listener: QueueListener) -> None:
        self._listeners.append(listener)

    def get(self, job_id: int) -> JobRecord | None:
        return self._records.get(job_id)

    def records(self) -> list[JobRecord]:
        """Every job: running, then queued (in the order they will run), then ended ones."""
        ordered = [self._records[i] for i in self._order]
        rank = {JobState.RUNNING: 0, JobState.QUEUED: 1}
        return sorted(ordered, key=lambda r: rank.get(r.state, 2))

    def queued(self) -> list[JobRecord]:
        return [r for r in self.records() if r.state is JobState.QUEUED]

    def active(self) -> list[JobRecord]:
        return [r for r in self.records() if not r.state.ended]

    def position(self, job_id: int) -> tuple[int, int] | None:
        """(1-based index, count) of a live job among the live jobs: 'job x of N'."""
        live = [r.job_id for r in self.active()]
        return (live.index(job_id) + 1, len(live)) if job_id in live else None

    def apply(self, event: JobEvent) -> None:
        """Update the job's record from a backend event."""
        record = self._records.get(event.job_id)
        if isinstance(event, JobQueued):
            self._records[event.job_id] = JobRecord(event.job_id, event.request)
            self._order.append(event.job_id)
        elif isinstance(event, JobMoved):
            self._move(event)
        elif record is not None:
            updated = _updated(record, event)
            if updated is record:
                return
            self._records[event.job_id] = updated
        else:
            return
        self._notify(event.job_id)

    def _move(self, event: JobMoved) -> None:
        queued = [r.job_id for r in self.queued()]
        if event.job_id not in queued:
            return
        if event.order:  # the backend's own order wins; jobs it does not list keep theirs
            rank = {job_id: i for i, job_id in enumerate(event.order)}
            queued.sort(key=lambda j: rank.get(j, len(rank)))
        else:
            queued.remove(event.job_id)
            queued.insert(max(0, min(event.position, len(queued))), event.job_id)
        others = [i for i in self._order if i not in queued]
        self._order = others + queued

    def clear_finished(self) -> int:
        """Forget ended jobs; returns how many."""
        ended = [i for i in self._order if self._records[i].state.ended]
        for job_id in ended:
            del self._records[job_id]
        self._order = [i for i in self._order if i in self._records]
        if ended:
            self._notify(0)
        return len(ended)

    def _notify(self, job_id: int) -> None:
        for listener in list(self._listeners):
            listener(job_id)


def _updated(record: JobRecord, event: JobEvent) -> JobRecord:
    if isinstance(event, JobStarted):
        return replace(record, state=JobState.RUNNING, step=0, total=0, message="", cause="")
    if isinstance(event, JobProgress):
        return replace(record, step=event.step, total=event.total, eta_s=event.eta_s,
                       image=event.image, images=event.images)
    if isinstance(event, JobResult):
        return replace(record, result=event.result, results=record.results + 1)
    if isinstance(event, JobFinished):
        return replace(record, state=JobState.DONE, eta_s=None)
    if isinstance(event, JobFailed):
        return replace(record, state=JobState.FAILED, message=event.message,
                       cause=event.cause, eta_s=None)
    if isinstance(event, JobCancelled):
        return replace(record, state=JobState.CANCELLED, eta_s=None)
    return record


class QueueStore:
    """The waiting jobs' requests in one JSON file, replaced atomically on every change."""

    MAX_BYTES = 512 * 1024 * 1024

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def save(self, requests: list[Request]) -> None:
        from studio.core.request_codec import encode_request

        if not requests:
            self.clear()
            return
        payload = json.dumps({"version": 1, "jobs": [encode_request(r) for r in requests]})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self) -> list[Request]:
        """The saved requests; [] when there are none or the file is unreadable."""
        from studio.core.request_codec import decode_request

        try:
            if not self.path.is_file() or self.path.stat().st_size > self.MAX_BYTES:
                return []
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [decode_request(item) for item in data.get("jobs", [])]
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            log.warning("saved queue %s is unreadable: %s", self.path, exc)
            return []

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
