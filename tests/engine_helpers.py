"""A started engine worker on the CPU for tests, shut down (and checked) afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from studio.core.outputs import OutputFolder
from studio.core.records import ResultSaver
from studio.engine.context import EngineContext
from studio.engine.device import plan_device
from studio.engine.worker import EngineWorker


@contextmanager
def running_worker(events: object, outputs: Path) -> Iterator[tuple[EngineWorker, EngineContext]]:
    """Yield (worker, context) with previews uncapped; assert the thread ends afterwards."""
    ctx = EngineContext.create(plan_device("cpu"), max_preview_fps=0, set_threads=False)
    worker = EngineWorker(events, ResultSaver(OutputFolder(outputs)), context_factory=lambda: ctx)
    worker.start()
    try:
        yield worker, ctx
    finally:
        assert worker.shutdown(timeout=30)
