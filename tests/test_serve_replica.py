"""One engine replica in-process (no Ray): closing its event stream cancels within a step."""

from __future__ import annotations

import asyncio
import threading

from studio.core.backend import JobCancelled, JobProgress
from studio.core.request_codec import encode_request
from studio.core.requests import GenerateRequest
from studio.engine.context import EngineContext
from studio.engine.device import plan_device
from studio.serve.replica import EngineReplica


def test_closing_the_stream_cancels_the_job_within_a_step(tiny_model_dir) -> None:
    replica = EngineReplica(lambda: EngineContext.create(plan_device("cpu"), max_preview_fps=0))
    steps: list[int] = []
    cancelled = threading.Event()
    replica.backend.subscribe(lambda e: steps.append(e.step) if isinstance(e, JobProgress)
                              else cancelled.set() if isinstance(e, JobCancelled) else None)
    request = GenerateRequest(model_path=str(tiny_model_dir), model_name="tiny", steps=1000,
                              width=64, height=64, guidance=1.0, prompt="x")

    async def run_until_step_3() -> list[str]:
        kinds = []
        events = replica.run(encode_request(request))
        async for event in events:
            kinds.append(event["event"])
            if event["event"] == "progress" and event["step"] >= 3:
                break
        await events.aclose()
        return kinds

    try:
        kinds = asyncio.run(asyncio.wait_for(run_until_step_3(), 120))
        at_close = max(steps)
        assert cancelled.wait(30)
        assert kinds[0] == "started" and max(steps) <= at_close + 1 < 1000
    finally:
        replica.shutdown()
