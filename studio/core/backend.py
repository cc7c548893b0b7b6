"""The backend interface every engine implements (local worker, remote server): Qt-free.

A backend takes frozen requests, runs them one at a time in submission order (which
`move` can change while they wait), and reports each job's life as typed events to its
subscribers, on whatever thread it likes: the GUI marshals them onto its own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from studio.core.explore_requests import NoiseStepRequest, RecordStepsRequest
from studio.core.requests import GenerateRequest
from studio.core.train_request import LoraTrainRequest, TrainRequest
from studio.core.upscale import UpscaleRequest

Request: TypeAlias = (
    GenerateRequest | UpscaleRequest | RecordStepsRequest | NoiseStepRequest | TrainRequest
    | LoraTrainRequest
)
REQUEST_TYPES: tuple[type, ...] = (
    GenerateRequest, UpscaleRequest, RecordStepsRequest, NoiseStepRequest, TrainRequest,
    LoraTrainRequest,
)


@dataclass(frozen=True)
class JobEvent:
    """Base of every event; `job_id` is 0 for engine-level events."""

    job_id: int


@dataclass(frozen=True)
class JobQueued(JobEvent):
    request: Request = field(repr=False)


@dataclass(frozen=True)
class JobMoved(JobEvent):
    position: int  # the job's new index among the waiting jobs
    order: tuple[int, ...] = ()  # every waiting job's id, in the order they will run


@dataclass(frozen=True)
class JobStarted(JobEvent):
    request: Request = field(repr=False)


@dataclass(frozen=True)
class JobProgress(JobEvent):
    step: int
    total: int
    eta_s: float | None = None  # seconds left for the whole job, once measurable
    image: int = 0  # which image of a batch the step belongs to (0-based)
    images: int = 1


@dataclass(frozen=True)
class JobPreview(JobEvent):
    """An intermediate image: HxWx3 uint8 array, or a RegionPreview for edits."""

    step: int
    total: int
    image: object = field(repr=False)


@dataclass(frozen=True)
class JobResult(JobEvent):
    """One finished, already saved image (an `ImageResult`)."""

    result: object = field(repr=False)


@dataclass(frozen=True)
class JobData(JobEvent):
    """A job kind's non-image payload (explorer frames, a training step's loss…)."""

    payload: object = field(repr=False)


@dataclass(frozen=True)
class JobFinished(JobEvent):
    results: tuple = field(default=(), repr=False)


# Why a job failed, where the GUI can offer a way out (the message says it in words).
CAUSE_LORA = "lora"  # a LoRA that is missing, unreadable or does not fit the model
CAUSE_OUT_OF_MEMORY = "out_of_memory"
FAILURE_CAUSES = frozenset({CAUSE_LORA, CAUSE_OUT_OF_MEMORY})


@dataclass(frozen=True)
class JobFailed(JobEvent):
    message: str
    cause: str = ""  # one of FAILURE_CAUSES, or "" for any other failure


@dataclass(frozen=True)
class JobCancelled(JobEvent):
    pass


@dataclass(frozen=True)
class EngineStatus(JobEvent):
    """Engine-level status text (model loading, device, fallbacks)."""

    text: str


FINAL_EVENTS = (JobFinished, JobFailed, JobCancelled)
Listener = Callable[[JobEvent], None]


class Backend(Protocol):
    """What the GUI, the CLI and remote clients drive; every implementation is one of these."""

    def start(self) -> None: ...

    def submit(self, request: Request) -> int:
        """Queue a job; returns its id at once (a `JobQueued` event follows)."""
        ...

    def cancel(self, job_id: int) -> None:
        """Cancel a queued job, or the running one within a step."""
        ...

    def cancel_all(self) -> None: ...

    def move(self, job_id: int, position: int) -> bool:
        """Move a queued job to `position` among the queued jobs; False if not queued."""
        ...

    def stop_and_keep(self) -> None:
        """Stop the running job now and keep its current denoised estimate."""
        ...

    def set_paused(self, paused: bool) -> None:
        """Pause or resume the running job between steps (jobs that support it)."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event)` for every event from now on; returns the unsubscribe."""
        ...

    @property
    def busy(self) -> bool: ...

    def shutdown(self, timeout: float = 10.0) -> bool: ...


class EventHub:
    """Fan-out of events to subscribers, safe to use from any thread."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def set_paused(self, paused: bool) -> None:
        """Pause or resume the running job between steps (jobs that support it)."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: JobEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)


def request_kind(request: object) -> str:
    """A short label for a job's kind: txt2img, img2img, inpaint, upscale, explore, train."""
    if isinstance(request, GenerateRequest):
        return request.kind.value
    if isinstance(request, UpscaleRequest):
        return "upscale"
    if isinstance(request, RecordStepsRequest | NoiseStepRequest):
        return "explore"
    if isinstance(request, TrainRequest | LoraTrainRequest):
        return "train"
    return type(request).__name__


def request_summary(request: object) -> str:
    """One line describing a job for the queue: its prompt, or what it works on."""
    if isinstance(request, GenerateRequest):
        return request.prompt or "(no prompt)"
    if isinstance(request, RecordStepsRequest):
        return request.generate.prompt or "(no prompt)"
    if isinstance(request, UpscaleRequest):
        return f"{request.source_width}×{request.source_height} ×{request.scale}"
    if isinstance(request, NoiseStepRequest):
        return f"noise step t={request.timestep}"
    if isinstance(request, TrainRequest):
        return f"{request.name} ({request.steps} steps)"
    if isinstance(request, LoraTrainRequest):
        return f"LoRA {request.name} ({request.steps} steps)"
    return ""
