"""The jobs a backend's serving thread works through: waiting ones in order, one running.

Shared by the local worker and the remote client, so ordering, moving and cancelling
behave the same whichever engine runs the jobs. Safe across threads.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Running(Protocol):
    job_id: int


R = TypeVar("R", bound=Running)


class JobLine(Generic[R]):
    """Waiting (job id, request) pairs in run order, and the running job's record."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._waiting: deque[tuple[int, object]] = deque()
        self._running: R | None = None
        self._stopping = False

    def new_id(self) -> int:
        with self._cond:
            return next(self._ids)

    def put(self, job_id: int, request: object) -> None:
        with self._cond:
            self._waiting.append((job_id, request))
            self._cond.notify()

    def ids(self) -> list[int]:
        """The waiting jobs' ids, in the order they will run."""
        with self._cond:
            return [job_id for job_id, _ in self._waiting]

    def move(self, job_id: int, position: int) -> tuple[int, ...] | None:
        """Move a waiting job to `position` (clamped); the new order, or None if not waiting."""
        with self._cond:
            for index, item in enumerate(self._waiting):
                if item[0] == job_id:
                    del self._waiting[index]
                    position = max(0, min(position, len(self._waiting)))
                    self._waiting.insert(position, item)
                    return tuple(i for i, _ in self._waiting)
        return None

    def withdraw(self, job_id: int | None) -> tuple[bool, R | None]:
        """In one step: (True, None) if a waiting `job_id` was removed, else (False, the
        running record when it is `job_id`, or any running record for None)."""
        with self._cond:
            running = self._running
            if running is not None and (job_id is None or running.job_id == job_id):
                return False, running
            if job_id is None:
                return False, None
            before = len(self._waiting)
            self._waiting = deque(i for i in self._waiting if i[0] != job_id)
            return len(self._waiting) < before, None

    def clear(self) -> tuple[list[int], R | None]:
        """Remove every waiting job; returns their ids and the running record."""
        with self._cond:
            waiting = [job_id for job_id, _ in self._waiting]
            self._waiting.clear()
            return waiting, self._running

    def running(self) -> R | None:
        with self._cond:
            return self._running

    def take(self, start: Callable[[int, object], R]) -> R | None:
        """Wait for the next job and make `start(job_id, request)` its running record, in one
        step so no cancel slips between; None once stopped."""
        with self._cond:
            while not self._waiting and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            job_id, request = self._waiting.popleft()
            self._running = start(job_id, request)
            return self._running

    def done(self) -> None:
        with self._cond:
            self._running = None

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._waiting)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def stop_and_join(self, thread: threading.Thread, timeout: float) -> bool:
        """Stop taking jobs and wait for the `thread` serving this line; True if it ended."""
        self.stop()
        if thread.is_alive():
            thread.join(timeout)
        return not thread.is_alive()
