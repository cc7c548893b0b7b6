"""The Ray Serve deployments: engine replicas (multiplexed by model) and the HTTP ingress.

Imported only by `studio serve` (and its tests): importing it imports ray.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from ray import serve
from ray.exceptions import RayError, TaskCancelledError
from ray.serve.exceptions import RequestCancelledError

from studio.serve.api import ApiConfig, build_api

log = logging.getLogger(__name__)
_CANCELLED = (RequestCancelledError, TaskCancelledError)


@serve.deployment(max_ongoing_requests=1)
class EngineDeployment:
    """One replica = one engine thread holding one model's pipelines."""

    def __init__(self) -> None:
        from studio.engine.device import configure_process_env

        configure_process_env()
        from studio.serve.replica import EngineReplica

        self.replica = EngineReplica()

    @serve.multiplexed(max_num_models_per_replica=1)
    async def get_model(self, model_id: str) -> str:
        """The pipelines load on the first job; this tells the router which model we hold."""
        return model_id

    async def run(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        await self.get_model(serve.get_multiplexed_model_id())
        replica = serve.get_replica_context().replica_id.unique_id
        async for event in self.replica.run(request):
            if event["event"] == "started":
                event = {**event, "replica": replica}  # which replica runs it (for operators)
            yield event


class RayGateway:
    """Sends each job to a replica holding its model and streams the events back."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.options(stream=True)
        self.running: dict[str, Any] = {}
        self.started = 0  # jobs sent to a replica, for /health

    async def stream(self, job: str, model: str, request: dict[str, Any]
                     ) -> AsyncIterator[dict[str, Any]]:
        self.started += 1
        for attempt in range(2):
            response = self.engine.options(multiplexed_model_id=model).run.remote(request)
            self.running[job] = response
            heard, ended = False, False
            try:
                async for event in response:
                    heard = True
                    ended = event.get("event") in ("finished", "failed", "cancelled")
                    yield event
                return
            except _CANCELLED:
                ended = True
                yield {"event": "cancelled"}
                return
            except RayError as exc:
                ended = heard or attempt > 0
                if ended:  # a job that never reached a replica is retried once
                    yield {"event": "failed", "message": _lost_message(exc)}
                    return
                log.warning("retrying job %s: %s", job, exc)
            finally:
                self.running.pop(job, None)
                if not ended:
                    response.cancel()

    async def cancel(self, job: str) -> bool:
        response = self.running.get(job)
        if response is None:
            return False
        response.cancel()
        return True


def _lost_message(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"The engine replica running this job stopped ({type(exc).__name__}: "
            f"{first[:200]}). The server starts a new one; try the job again.")


@serve.deployment(max_ongoing_requests=64)
@serve.ingress()
class Ingress:
    """The FastAPI app in front of the engine replicas."""

    def __init__(self, engine: Any, config: ApiConfig) -> None:
        self.gateway = RayGateway(engine)
        self.config = config

    def __serve_build_asgi_app__(self) -> Any:
        return build_api(self.gateway, self.config)
