"""The backend interface pieces: the job queue model, the request codec, the saved queue,
and the local worker's queue (order, move, cancel of waiting jobs)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from studio.core.backend import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobMoved,
    JobProgress,
    JobQueued,
    JobResult,
    JobStarted,
    request_kind,
)
from studio.core.explore_requests import NoiseStepRequest, RecordStepsRequest
from studio.core.job_queue import JobQueue, JobState, QueueStore
from studio.core.outputs import OutputFolder
from studio.core.records import ResultSaver
from studio.core.request_codec import decode_request, encode_request
from studio.core.requests import GenerateRequest, JobKind
from studio.core.train_request import TrainRequest
from studio.core.upscale import UpscaleRequest, UpscalerKind
from studio.engine.local_backend import LocalBackend, run_to_end

GEN = GenerateRequest(model_path="/m", prompt="a cat", steps=4, width=64, height=64)
SAMPLES = [
    GEN,
    replace(GEN, kind=JobKind.INPAINT, init_image=b"\x89PNG\x00\xff", mask_image=b"mask",
            strength=0.5),
    UpscaleRequest(image=b"png-bytes", source_width=8, source_height=8,
                   kind=UpscalerKind.LANCZOS, scale=2),
    RecordStepsRequest(GEN),
    NoiseStepRequest("/m", b"img", timestep=10, seed=3),
    TrainRequest("/data", "/vae", "/models", "cats", steps=7,
                 overrides=(("batch_size", 2), ("channels", (8, 16)))),
]


@pytest.mark.parametrize("request_", SAMPLES, ids=lambda r: type(r).__name__)
def test_every_request_kind_round_trips_through_json(request_) -> None:
    text = json.dumps(encode_request(request_))
    assert decode_request(json.loads(text)) == request_


@pytest.mark.parametrize("data", [
    None, [], "GenerateRequest", {"type": "os.system"}, {"type": "ImageResult"},
    {"type": "GenerateRequest", "model_path": "/m", "kind": "explode"},
    {"type": "GenerateRequest", "model_path": "/m", "bogus_field": 1},
    {"type": "GenerateRequest", "model_path": "/m", "init_image": {"__bytes__": "@@not b64"}},
    {"type": "GenerateRequest", "model_path": "/m", "init_image": {"__bytes__": 5}},
    {"type": "UpscaleRequest", "image": {"__bytes__": "AA=="}, "kind": "pickle"},
    {"type": "RecordStepsRequest", "generate": {"type": "Nope"}},
])
def test_hostile_saved_requests_are_refused_with_a_clear_error(data) -> None:
    with pytest.raises(ValueError):
        decode_request(data)


def test_queue_model_follows_a_job_through_its_states() -> None:
    queue = JobQueue()
    changes: list[int] = []
    queue.subscribe(changes.append)
    for job in (1, 2, 3):
        queue.apply(JobQueued(job, replace(GEN, prompt=f"p{job}")))
    queue.apply(JobStarted(1, GEN))
    queue.apply(JobProgress(1, 2, 4, 1.5))
    assert [r.job_id for r in queue.records()] == [1, 2, 3]
    assert queue.get(1).state is JobState.RUNNING and queue.get(1).eta_s == 1.5
    assert queue.position(1) == (1, 3) and queue.position(3) == (3, 3)
    queue.apply(JobMoved(3, 0))
    assert [r.job_id for r in queue.queued()] == [3, 2]
    queue.apply(JobResult(1, object()))
    queue.apply(JobFinished(1))
    queue.apply(JobFailed(3, "boom"))
    queue.apply(JobCancelled(2))
    states = {r.job_id: (r.state, r.results, r.message) for r in queue.records()}
    assert states == {1: (JobState.DONE, 1, ""), 2: (JobState.CANCELLED, 0, ""),
                      3: (JobState.FAILED, 0, "boom")}
    assert queue.active() == [] and queue.clear_finished() == 3 and queue.records() == []
    assert changes[:4] == [1, 2, 3, 1] and changes[-1] == 0


def test_queue_ignores_events_of_unknown_jobs() -> None:
    queue = JobQueue()
    queue.apply(JobStarted(9, GEN))
    queue.apply(JobFinished(9))
    assert queue.records() == []


def test_queue_store_saves_atomically_and_survives_a_corrupt_file(tmp_path) -> None:
    store = QueueStore(tmp_path / "queue.json")
    store.save(SAMPLES)
    assert store.load() == SAMPLES
    assert [p.name for p in tmp_path.iterdir()] == ["queue.json"]  # no temp file left
    store.save([])
    assert not store.path.exists() and store.load() == []
    store.path.write_text('{"jobs": [{"type": "GenerateRequest", "kind": "x"}]')
    assert store.load() == []
    store.path.write_bytes(b"\xff\xfe garbage")
    assert store.load() == []


def test_request_kinds_for_the_queue() -> None:
    assert [request_kind(r) for r in SAMPLES] == [
        "txt2img", "inpaint", "upscale", "explore", "explore", "train"]


class _GatedContext:
    """A context whose GenerateRequest handler waits for a gate and records the order."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.order: list[str] = []
        self.handlers = {GenerateRequest: self.run}

    def run(self, job_id, request, ctx, control, events, saver) -> list:  # noqa: ANN001
        self.gate.wait(30)
        if control.cancel.is_set():
            from studio.engine.runner import JobCancelled as Cancelled

            raise Cancelled()
        self.order.append(request.prompt)
        return []


def test_local_backend_runs_jobs_in_the_order_the_user_set(tmp_path) -> None:
    ctx = _GatedContext()
    backend = LocalBackend(ResultSaver(OutputFolder(tmp_path)), lambda: ctx)
    events: list = []
    backend.subscribe(events.append)
    started = threading.Event()
    backend.subscribe(lambda e: started.set() if isinstance(e, JobStarted) else None)
    backend.start()
    try:
        ids = [backend.submit(replace(GEN, prompt=name)) for name in "ABCD"]
        assert started.wait(30)  # A runs (held at the gate); B, C, D wait
        assert backend.move(ids[3], 0)  # D first among the waiting jobs
        assert not backend.move(999, 0)
        backend.cancel(ids[2])  # C
        ctx.gate.set()
        done = threading.Event()
        backend.subscribe(lambda e: done.set() if isinstance(e, JobFinished)
                          and e.job_id == ids[1] else None)
        assert done.wait(30)
    finally:
        assert backend.shutdown(30)
    assert ctx.order[0] == "A" and ctx.order[1:] == ["D", "B"]
    kinds = [(type(e).__name__, e.job_id) for e in events
             if isinstance(e, JobQueued | JobMoved | JobCancelled)]
    assert kinds[:4] == [("JobQueued", i) for i in ids]
    assert ("JobMoved", ids[3]) in kinds and ("JobCancelled", ids[2]) in kinds
    finals = [e.job_id for e in events if isinstance(e, JobFinished)]
    assert finals == [ids[0], ids[3], ids[1]]


def test_cancel_all_cancels_the_waiting_and_the_running_job(tmp_path) -> None:
    ctx = _GatedContext()
    backend = LocalBackend(ResultSaver(OutputFolder(tmp_path)), lambda: ctx)
    events: list = []
    backend.subscribe(events.append)
    backend.start()
    try:
        ids = [backend.submit(replace(GEN, prompt=name)) for name in "AB"]
        started = threading.Event()
        backend.subscribe(lambda e: started.set() if isinstance(e, JobStarted) else None)
        assert started.wait(30)
        backend.cancel_all()
        ctx.gate.set()
        final = run_to_end(backend, replace(GEN, prompt="C"), lambda e: None)
    finally:
        assert backend.shutdown(30)
    assert isinstance(final, JobFinished) and ctx.order == ["C"]
    cancelled = [e.job_id for e in events if isinstance(e, JobCancelled)]
    assert sorted(cancelled) == ids


def test_an_invalid_request_fails_with_its_reason(tmp_path) -> None:
    backend = LocalBackend(ResultSaver(OutputFolder(tmp_path)), lambda: _GatedContext())
    backend.start()
    try:
        final = run_to_end(backend, replace(GEN, steps=0), lambda e: None)
    finally:
        assert backend.shutdown(30)
    assert isinstance(final, JobFailed) and "steps must be between" in final.message
