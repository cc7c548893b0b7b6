"""Runs one CLI job through the engine backend: progress on stderr, saved paths on stdout."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from studio.commands.common import fail, say

if TYPE_CHECKING:
    from studio.commands.path_saver import PathSaver
    from studio.core.backend import JobEvent, Request

EXIT_INTERRUPTED = 130


class ProgressPrinter:
    """Turns a job's events into a tqdm bar (stderr) and saved paths (stdout)."""

    def __init__(self, saver: PathSaver, describe: Callable[[int, int, int], str],
                 unit: str = "step", stream: TextIO | None = None) -> None:
        self.saver = saver
        self.describe = describe  # (step, total, image index) -> the bar's postfix
        self.unit = unit
        self.stream = stream or sys.stderr
        self.images = 0
        self.errors: list[str] = []
        self._bar = None
        self._lock = threading.Lock()

    def __call__(self, event: JobEvent) -> None:
        from studio.core.backend import EngineStatus, JobProgress, JobResult

        with self._lock:
            if isinstance(event, JobProgress):
                self._progress(event.step, event.total)
            elif isinstance(event, JobResult):
                self._result(event.result)
            elif isinstance(event, EngineStatus):
                self._write(f"studio: {event.text}")

    def _progress(self, step: int, total: int) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=total, unit=self.unit, file=self.stream, leave=True,
                             desc=self.describe(0, total, self.images))
        bar = self._bar
        bar.total = total
        bar.set_description_str(self.describe(step, total, self.images), refresh=False)
        bar.update(max(0, step - bar.n))

    def _result(self, result: object) -> None:
        self.close()
        if getattr(result, "upscaled_by", 1) == 1:
            self.images += 1
        path = getattr(result, "path", None)
        error = getattr(result, "save_error", None)
        if error:
            self.errors.append(error)
            self._write(f"studio: error: {error}")
        if path is None:
            return
        planned = self.saver.renamed.get(path)
        if planned is not None:
            self._write(f"studio: {planned} exists; wrote {path} instead")
        say(str(path))
        mask = path.with_suffix(".mask.png")
        if _is_inpaint(getattr(result, "request", None)) and mask.is_file():
            say(str(mask))

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.clear()
        say(text, self.stream)
        if self._bar is not None:
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _is_inpaint(request: object) -> bool:
    from studio.core.requests import GenerateRequest, JobKind

    return isinstance(request, GenerateRequest) and request.kind is JobKind.INPAINT


def run_with_backend(request: Request, saver: PathSaver, device: str,
                     printer: ProgressPrinter) -> int:
    """Run `request` on a LocalBackend with `saver`; the exit code (0, 1 or 130)."""
    from studio.engine.device import configure_process_env

    configure_process_env()  # before torch is imported
    from studio.core.backend import JobCancelled, JobFailed
    from studio.engine.local_backend import LocalBackend, run_to_end

    backend = LocalBackend(saver, _context_factory(device))
    job_ids: list[int] = []

    def on_event(event: JobEvent) -> None:
        if event.job_id and not job_ids:
            job_ids.append(event.job_id)
        printer(event)

    try:
        backend.start()
        final = run_to_end(backend, request, on_event)
    except KeyboardInterrupt:
        if job_ids:
            backend.cancel(job_ids[0])
        printer.close()
        return fail("interrupted", EXIT_INTERRUPTED)
    finally:
        backend.shutdown()
    printer.close()
    if isinstance(final, JobFailed):
        return fail(final.message, 1)
    if isinstance(final, JobCancelled):
        return fail("cancelled", EXIT_INTERRUPTED)
    return 1 if printer.errors else 0


def _context_factory(device: str) -> Callable[[], object]:
    def create() -> object:
        from studio.engine.context import EngineContext
        from studio.engine.device import plan_device

        return EngineContext.create(plan_device(None if device == "auto" else device))

    return create
