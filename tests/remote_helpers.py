"""A tiny in-process `studio serve` API on 127.0.0.1 with a scripted fake gateway (no Ray)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import numpy as np
from PIL import Image

from studio.core.backend import FINAL_EVENTS, JobEvent
from studio.remote import protocol
from studio.serve.api import ApiConfig, build_api

TOKEN = "test-token"


class FakeGateway:
    """Runs a pretend job: `steps` steps with a preview each, then one result image."""

    def __init__(self, steps: int = 3, delay: float = 0.01) -> None:
        self.steps, self.delay = steps, delay
        self.jobs: list[dict[str, Any]] = []
        self.cancelled: set[str] = set()
        self.die_after: int | None = None  # close the stream after this many steps
        self.fail_with: dict[str, Any] | None = None  # end with this "failed" event instead

    async def stream(self, job: str, model: str, request: dict[str, Any]):
        self.jobs.append(request)
        yield {"event": "started"}
        if self.fail_with is not None:
            yield {"event": "failed", **self.fail_with}
            return
        for step in range(1, self.steps + 1):
            await asyncio.sleep(self.delay)
            if job in self.cancelled:
                yield {"event": "cancelled"}
                return
            if self.die_after is not None and step > self.die_after:
                raise ConnectionError("replica died")
            frame = np.full((8, 8, 3), (255, 0, 0), np.uint8)
            yield {"event": "progress", "step": step, "total": self.steps, "eta_s": 0.1}
            yield {"event": "preview", "step": step, "total": self.steps,
                   **protocol.encode_preview(frame)}
        image = Image.new("RGB", (8, 8), (0, 200, 0))
        infotext = f"remote prompt\nSteps: {self.steps}, Seed: {request['seed']}"
        yield protocol.encode_result(_Result(image, infotext, self.steps), str(request["seed"]))
        yield {"event": "finished"}

    async def cancel(self, job: str) -> bool:
        self.cancelled.add(job)
        return True


class _Result:
    def __init__(self, image: Image.Image, infotext: str, steps: int) -> None:
        self.image, self.infotext, self.index, self.steps_done = image, infotext, 0, steps


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """uvicorn on 127.0.0.1 in a thread; `stop()` ends it."""

    def __init__(self, gateway: Any, models: dict[str, str] | None = None) -> None:
        import uvicorn

        self.port = free_port()
        config = ApiConfig(TOKEN, models or {"tiny": "/srv/models/tiny"})
        self.server = uvicorn.Server(uvicorn.Config(
            build_api(gateway, config), host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def collect(backend: Any) -> tuple[list[JobEvent], threading.Event]:
    """Every event the backend publishes, and an Event set on each final one."""
    events: list[JobEvent] = []
    done = threading.Event()

    def listen(event: JobEvent) -> None:
        events.append(event)
        if isinstance(event, FINAL_EVENTS):
            done.set()

    backend.subscribe(listen)
    return events, done
