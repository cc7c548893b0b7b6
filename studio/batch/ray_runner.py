"""The Ray runner: pending items through Ray Data, on actors that keep their model loaded.

The driver makes a dataset of the pending items' indices (one row per block, so the actors
share the work evenly) and maps it with `BatchActor`: a fixed pool of `actors` actors, each
owning one `BatchWorker` (its own engine: the model loads once per actor). Each actor reads
its inputs and writes its outputs itself, atomically, so inputs and the output folder must be
on a file system every node sees. Outcomes stream back to the driver as they finish.

Resources: one GPU per actor on a cluster with GPUs; on CPUs only, each actor asks for a
fraction of a CPU so that one CPU always stays free for Ray Data's own tasks (with every CPU
held by actors, the read task never runs and the job waits for ever).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from studio.batch.build import BatchSpec
from studio.batch.plan import FAILED, BatchItem, Outcome

if TYPE_CHECKING:
    from studio.batch.report import BatchReport

LOCAL = "local"  # --ray local: start a Ray instance on this machine, loopback only


class BatchActor:
    """A Ray Data callable class: one engine per actor, one item per call."""

    def __init__(self, spec: BatchSpec, items: list[BatchItem], threads: int = 0) -> None:
        if threads:
            os.environ.setdefault("STUDIO_TORCH_THREADS", str(threads))
        from studio.batch.worker import BatchWorker

        self.items = items
        self.worker = BatchWorker(spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outcomes = [self._one(int(index)) for index in batch["index"]]
        return {"index": np.array([o.index for o in outcomes], dtype=np.int64),
                "status": np.array([o.status for o in outcomes], dtype=object),
                "detail": np.array([o.detail for o in outcomes], dtype=object)}

    def _one(self, index: int) -> Outcome:
        try:
            return self.worker.run(index, self.items[index])
        except Exception as exc:  # noqa: BLE001 - one item's failure must not end the batch
            return Outcome(index, FAILED, f"{type(exc).__name__}: {exc}")


def run_ray(spec: BatchSpec, items: list[BatchItem], todo: list[int], report: BatchReport,
            address: str, actors: int | None = None) -> None:
    """Run `items[i]` for every i in `todo` on Ray; outcomes go to `report` as they come."""
    if not todo:
        return
    import ray

    started = _connect(ray, address)
    try:
        _quiet_data()
        ds = _dataset(ray, spec, items, todo, actors)
        try:
            for row in ds.iter_rows():
                report.add(Outcome(int(row["index"]), str(row["status"]), str(row["detail"])))
        except ray.exceptions.RayError as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), "")
            raise RuntimeError(f"the Ray job failed: {type(exc).__name__}: {first}") from None
    finally:
        if started:
            ray.shutdown()


def _connect(ray, address: str) -> bool:  # noqa: ANN001
    """Join the cluster at `address` (or start a loopback-only one); True if started here."""
    if ray.is_initialized():
        return False
    try:
        if address == LOCAL:
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1",
                     log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise RuntimeError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    return True


def _dataset(ray, spec: BatchSpec, items: list[BatchItem], todo: list[int],  # noqa: ANN001
             actors: int | None):  # noqa: ANN202 - a ray.data.Dataset
    free = ray.available_resources()  # what other work on the cluster leaves us
    plan = actor_plan(float(free.get("CPU", 1)), float(free.get("GPU", 0)), actors, spec.device)
    rows = [{"index": index} for index in todo]
    ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), 10_000))
    return ds.map_batches(
        BatchActor, batch_size=1, compute=ray.data.ActorPoolStrategy(size=plan.actors),
        num_cpus=plan.cpus,
        num_gpus=plan.gpus or None,
        fn_constructor_kwargs={"spec": spec, "items": items, "threads": plan.threads})


@dataclass(frozen=True)
class ActorPlan:
    """How many actors, and what each asks for (`threads`: torch threads, 0 = default)."""

    actors: int
    cpus: float
    gpus: float
    threads: int


def actor_plan(cpus: float, gpus: float, actors: int | None, device: str = "auto") -> ActorPlan:
    """One GPU per actor when the cluster has GPUs (and --device is not cpu); otherwise a
    share of the CPUs that always leaves one CPU free for Ray Data's other tasks."""
    if gpus >= 1 and device != "cpu":
        count = actors or int(gpus)
        return ActorPlan(count, min(1.0, max(0.1, (cpus - 1) / count)), 1.0, 0)
    count = actors or 1
    share = max(cpus - 1.0, 0.5) / count
    threads = max(1, int(max(cpus - 1.0, 1.0) // count))
    return ActorPlan(count, round(min(1.0, max(0.05, share)), 3), 0.0, threads)


def _quiet_data() -> None:
    """No Ray Data progress bars or banners: the batch draws its own bar."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
