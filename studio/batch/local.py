"""The local runner: every pending item through one BatchWorker (the model loads once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from studio.batch.build import BatchSpec
from studio.batch.plan import BatchItem, Outcome
from studio.batch.report import BatchReport


class ItemRunner(Protocol):
    """What the local runner drives: `BatchWorker`, or a test's stand-in."""

    def run(self, index: int, item: BatchItem) -> Outcome: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...


RunnerFactory = Callable[[BatchSpec, Callable[[str], None]], ItemRunner]


def run_local(spec: BatchSpec, items: list[BatchItem], todo: list[int],
              report: BatchReport, runner_factory: RunnerFactory | None = None) -> None:
    """Run `items[i]` for every i in `todo`, in order; KeyboardInterrupt stops within a step.

    Whatever was finished stays; the running item writes nothing (its output is published
    atomically only once complete), so the next run picks up where this one stopped.
    """
    if not todo:
        return
    if runner_factory is None:
        from studio.batch.worker import BatchWorker

        runner_factory = BatchWorker
    runner = runner_factory(spec, report.note)
    try:
        for index in todo:
            report.add(runner.run(index, items[index]))
    except BaseException:
        runner.cancel()
        raise
    finally:
        runner.close()
