"""Keeps the waiting jobs on disk and offers them back after a crash or a quit."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject

from studio.core.backend import Request
from studio.core.job_queue import JobQueue, QueueStore
from studio.ui.notice import NoticeBar

log = logging.getLogger(__name__)


class QueuePersistence(QObject):
    """Saves the live jobs' requests whenever that set changes; `freeze` stops at quit."""

    def __init__(self, queue: JobQueue, store: QueueStore, notice: NoticeBar,
                 submit: Callable[[Request], object]) -> None:
        super().__init__(notice)
        self.queue, self.store, self.notice, self.submit = queue, store, notice, submit
        self.offered: list[Request] = self.store.load()
        self._saved: tuple[int, ...] = ()
        self._frozen = False
        queue.subscribe(lambda _job: self.save_if_changed())
        if self.offered:
            self._offer()

    def _offer(self) -> None:
        count = len(self.offered)
        self.notice.show_message(
            f"{count} job{'s were' if count > 1 else ' was'} still queued when Studio last "
            "stopped.", "warning", [("Restore", self.restore), ("Discard", self.discard)])

    def restore(self) -> int:
        """Queue the offered jobs again; returns how many were queued."""
        jobs, self.offered = self.offered, []
        queued = sum(1 for request in jobs if self.submit(request) is not None)
        self.notice.hide()
        return queued

    def discard(self) -> None:
        self.offered = []
        self.notice.hide()
        self.save_if_changed(force=True)

    def save_if_changed(self, force: bool = False) -> None:
        if self._frozen:
            return
        live = self.queue.active()
        ids = tuple(r.job_id for r in live)
        if ids == self._saved and not force:
            return
        try:
            self.store.save(list(self.offered) + [r.request for r in live])
        except (OSError, ValueError) as exc:
            log.warning("could not save the queue: %s", exc)
            return
        self._saved = ids

    def freeze(self) -> None:
        """Keep what is on disk now (a quit cancels the jobs, which must stay offered)."""
        self._frozen = True
