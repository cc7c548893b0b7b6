"""A job's control flags (cancel, keep, pause), set from any thread: no torch here."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


class JobCancelled(Exception):
    """The job was cancelled between steps; nothing more is decoded."""


def _set(event: threading.Event) -> threading.Event:
    event.set()
    return event


@dataclass
class JobControl:
    """Flags the GUI thread sets and the worker checks after every step."""

    cancel: threading.Event = field(default_factory=threading.Event)
    keep: threading.Event = field(default_factory=threading.Event)
    record: object | None = None  # the explorer's StepRecorder; None: no recording, no cost
    running: threading.Event = field(default_factory=lambda: _set(threading.Event()))

    def wait_if_paused(self) -> None:
        """Block while paused; cancel wakes it (jobs that can pause call this between steps)."""
        while not self.running.wait(0.1):
            if self.cancel.is_set():
                return


__all__ = ["JobCancelled", "JobControl"]
