"""Starting and stopping the Serve application (used by `studio serve` and the tests)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from studio.serve.api import Limits

CLUSTER_HINT = "Ray is not installed: pip install -e '.[cluster]' (or pip install 'ray[serve]')"
APP_NAME = "studio"


class RayMissing(RuntimeError):
    """Ray (or FastAPI) is not installed; the message says what to install."""


def require_ray() -> None:
    """Raise RayMissing with what to install when ray or fastapi cannot be imported."""
    try:
        import fastapi  # noqa: F401
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError:
        raise RayMissing(CLUSTER_HINT) from None


@dataclass(frozen=True)
class ServeOptions:
    """Where to listen, how many replicas, which models, and the limits."""

    host: str = "127.0.0.1"
    port: int = 8765
    token: str = ""  # "" → STUDIO_TOKEN, else a fresh random one
    replicas: int = 1  # CPU replicas (a cluster with GPUs gets one replica per GPU)
    replica_cpus: float = 0.5
    address: str | None = None  # an existing Ray cluster ("auto", "host:6379")
    model_dirs: tuple[Path, ...] = ()
    embedded_dir: Path | None = None
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class RunningServer:
    url: str
    token: str
    models: tuple[str, ...]
    replicas: int
    gpus: int


def model_table(options: ServeOptions) -> dict[str, str]:
    """The server's models by name (the first of a name wins): the only paths jobs may use."""
    from studio.core.models import EMBEDDED_MODELS_DIR, ModelRegistry

    registry = ModelRegistry(options.embedded_dir or EMBEDDED_MODELS_DIR, options.model_dirs)
    table: dict[str, str] = {}
    for entry in registry.entries():
        table.setdefault(entry.name, str(entry.path))
    return table


def start_server(options: ServeOptions) -> RunningServer:
    """Start (or join) Ray, deploy the engine and the ingress; returns once it answers."""
    require_ray()
    import ray
    from ray import serve

    from studio.serve.api import ApiConfig
    from studio.serve.deployments import EngineDeployment, Ingress

    if not ray.is_initialized():
        if options.address:
            ray.init(address=options.address)
        else:
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1")
    token = options.token or os.environ.get("STUDIO_TOKEN", "") or secrets.token_urlsafe(24)
    models = model_table(options)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    actor = {"num_gpus": 1} if gpus else {"num_cpus": options.replica_cpus}
    replicas = gpus or max(1, options.replicas)
    serve.start(http_options={"host": options.host, "port": options.port})
    engine = EngineDeployment.options(num_replicas=replicas, ray_actor_options=actor)
    ingress = Ingress.options(ray_actor_options={"num_cpus": 0.05})
    config = ApiConfig(token, models, options.limits)
    serve.run(ingress.bind(engine.bind(), config), name=APP_NAME, route_prefix="/")
    host = "127.0.0.1" if options.host in ("0.0.0.0", "::") else options.host
    return RunningServer(f"http://{host}:{options.port}", token, tuple(models), replicas, gpus)


def stop_server(shutdown_ray: bool = True) -> None:
    """Tear the application down (and the local Ray instance)."""
    import ray
    from ray import serve

    serve.shutdown()
    if shutdown_ray:
        ray.shutdown()


def new_token() -> str:
    return secrets.token_urlsafe(24)
