"""One engine replica: a LocalBackend whose results stay in memory, its events as JSON dicts.

Ray-free, so it can be tested in-process; `studio.serve.deployments` wraps it in Serve.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.backend import (
    FINAL_EVENTS,
    EngineStatus,
    JobCancelled,
    JobEvent,
    JobFailed,
    JobFinished,
    JobPreview,
    JobProgress,
    JobResult,
    JobStarted,
)
from studio.core.outputs import OutputFolder
from studio.core.previews import RegionPreview
from studio.core.records import ImageResult, ResultSaver
from studio.core.request_codec import decode_request
from studio.engine.local_backend import LocalBackend
from studio.engine.worker import ContextFactory, default_context_factory
from studio.remote import protocol


class CapturingSaver(ResultSaver):
    """Writes nothing on the server: the client saves each image; remembers its file stem."""

    def __init__(self) -> None:
        super().__init__(OutputFolder(Path("(the client's outputs)")))
        self._lock = threading.Lock()
        self._stems: dict[int, str] = {}

    def save_with_infotext(self, job_id: int, index: int, image: Image.Image, request: object,
                           infotext: str, stem: str, steps_done: int | None = None
                           ) -> ImageResult:
        with self._lock:
            self._stems[id(image)] = stem
        return ImageResult(job_id, index, image, request, infotext, None, None, steps_done)

    def pop_stem(self, image: object) -> str:
        with self._lock:
            return self._stems.pop(id(image), "image")


class EngineReplica:
    """Runs jobs one at a time on its own engine thread; `run` streams one job's events."""

    def __init__(self, context_factory: ContextFactory = default_context_factory) -> None:
        self.saver = CapturingSaver()
        self.backend = LocalBackend(self.saver, context_factory)
        self.backend.start()

    async def run(self, encoded_request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Submit the request and yield its events until the final one.

        Closing or cancelling the generator cancels the job (checked after every step).
        """
        request = decode_request(encoded_request)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[float, JobEvent]] = asyncio.Queue()
        unsubscribe = self.backend.subscribe(  # stamped on the engine thread, as produced
            lambda event: loop.call_soon_threadsafe(events.put_nowait, (time.time(), event)))
        job_id, ended = 0, False
        try:
            job_id = self.backend.submit(request)
            while not ended:
                stamp, event = await events.get()
                if event.job_id not in (0, job_id):
                    continue
                ended = isinstance(event, FINAL_EVENTS)
                data = self.encode(event)
                if data is not None:
                    if data["event"] == "preview":  # optional: when the engine made it
                        data["t"] = stamp  # (time.time(); clients may measure delivery)
                    yield data
        finally:
            unsubscribe()
            if job_id and not ended:
                self.backend.cancel(job_id)

    def encode(self, event: JobEvent) -> dict[str, Any] | None:
        """One event as a JSON-safe dict; None for events the wire does not carry."""
        match event:
            case JobStarted():
                return {"event": "started"}
            case JobProgress():
                return {"event": "progress", "step": event.step, "total": event.total,
                        "eta_s": event.eta_s, "image": event.image, "images": event.images}
            case JobPreview():
                return {"event": "preview", "step": event.step, "total": event.total,
                        **_preview_fields(event.image)}
            case JobResult():
                result = event.result
                return protocol.encode_result(result, self.saver.pop_stem(
                    getattr(result, "image", None)))
            case JobFinished():
                return {"event": "finished"}
            case JobFailed():
                return {"event": "failed", "message": event.message, "cause": event.cause}
            case JobCancelled():
                return {"event": "cancelled"}
            case EngineStatus():
                return {"event": "status", "text": event.text}
        return None

    def shutdown(self) -> None:
        self.backend.shutdown(timeout=10)


def _preview_fields(image: object) -> dict[str, Any]:
    if isinstance(image, RegionPreview):
        return protocol.encode_region(image.rgba, image.box)
    return protocol.encode_preview(image)
