"""One engine for a whole batch: a LocalBackend whose models load once, one item at a time."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from studio.batch.build import BatchSpec, build_request
from studio.batch.plan import EXISTS, FAILED, SKIPPED, WRITTEN, BatchItem, Outcome
from studio.batch.saver import BatchSaver

if TYPE_CHECKING:
    from studio.core.backend import JobEvent

StatusFn = Callable[[str], None]


class BatchWorker:
    """Runs items on its own LocalBackend; every failure comes back as an `Outcome`."""

    def __init__(self, spec: BatchSpec, on_status: StatusFn | None = None) -> None:
        from studio.engine.device import configure_process_env

        configure_process_env()  # before torch is imported
        from studio.engine.local_backend import LocalBackend

        self.spec = spec
        self.saver = BatchSaver()
        self.on_status = on_status
        self.backend = LocalBackend(self.saver, _context_factory(spec.device))
        self.backend.start()
        self._job: int | None = None

    def run(self, index: int, item: BatchItem) -> Outcome:
        """Do one item (unless its output appeared meanwhile) and say what became of it."""
        if os.path.lexists(item.output):
            return Outcome(index, SKIPPED, str(item.output))
        try:
            request = build_request(self.spec, item)
        except (ValueError, OSError) as exc:
            return Outcome(index, FAILED, _one_line(exc))
        return self._run_request(index, item, request)

    def _run_request(self, index: int, item: BatchItem, request: object) -> Outcome:
        from studio.core.backend import JobFailed, JobFinished, JobResult
        from studio.engine.local_backend import run_to_end

        self.saver.target, self.saver.existed = item.output, False
        results: list[object] = []

        def on_event(event: JobEvent) -> None:
            self._job = event.job_id or self._job
            if isinstance(event, JobResult):
                results.append(event.result)
            self._status(event)

        final = run_to_end(self.backend, request, on_event)  # type: ignore[arg-type]
        self._job = None
        if isinstance(final, JobFailed):
            return Outcome(index, FAILED, _one_line(final.message))
        if not isinstance(final, JobFinished) or not results:
            return Outcome(index, FAILED, "the job ended without an image")
        error = getattr(results[0], "save_error", None)
        if error:
            return Outcome(index, FAILED, _one_line(error))
        return Outcome(index, EXISTS if self.saver.existed else WRITTEN, str(item.output))

    def _status(self, event: JobEvent) -> None:
        from studio.core.backend import EngineStatus

        if isinstance(event, EngineStatus) and self.on_status is not None:
            self.on_status(event.text)

    def cancel(self) -> None:
        """Stop the running item within a step (nothing is written for it)."""
        if self._job is not None:
            self.backend.cancel(self._job)

    def close(self) -> None:
        self.backend.shutdown()


def _context_factory(device: str) -> Callable[[], object]:
    def create() -> object:
        from studio.engine.context import EngineContext
        from studio.engine.device import plan_device

        return EngineContext.create(plan_device(None if device == "auto" else device))

    return create


def _one_line(message: object) -> str:
    return " ".join(str(message).split()) or "unknown error"
