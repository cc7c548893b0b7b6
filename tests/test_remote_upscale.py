"""Upscale jobs on a Remote engine: the server's checks, and the same bytes as a local run."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from studio.core.backend import JobFinished
from studio.core.history import IndexingSaver
from studio.core.outputs import OutputFolder
from studio.core.request_codec import encode_request
from studio.core.upscale import UpscaleRequest, UpscalerKind
from studio.core.upscaler_catalog import EMBEDDED_SR_DIR
from studio.engine.context import EngineContext
from studio.engine.device import plan_device
from studio.engine.local_backend import LocalBackend, run_to_end
from studio.remote.client import RemoteBackend
from studio.serve.api import ApiConfig, Limits, build_api
from studio.serve.replica import EngineReplica
from tests.remote_helpers import TOKEN, FakeGateway, LocalServer, collect

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _png(width: int, height: int) -> bytes:
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _upscale(**changes) -> UpscaleRequest:
    values = dict(image=_png(32, 24), source_width=32, source_height=24,
                  kind=UpscalerKind.LANCZOS, model_path="/home/me/x", scale=2,
                  source_name="in.png")
    values.update(changes)
    return UpscaleRequest(**values)


@pytest.fixture
def api():
    gateway = FakeGateway()
    config = ApiConfig(TOKEN, {"tiny": "/srv/models/tiny"}, Limits(max_pixels=128 * 128))
    return TestClient(build_api(gateway, config)), gateway


def _post(client, request):
    return client.post("/jobs", json={"request": encode_request(request)}, headers=AUTH)


def test_upscale_jobs_use_the_servers_own_upscalers(api) -> None:
    client, gateway = api
    for kind, path in ((UpscalerKind.SR, str(EMBEDDED_SR_DIR)), (UpscalerKind.LANCZOS, "")):
        response = _post(client, _upscale(kind=kind, model_path="/home/me/evil.pth"))
        assert response.status_code == 200, response.text
        assert gateway.jobs[-1]["model_path"] == path  # never the client's path
    assert len(gateway.jobs) == 2


@pytest.mark.parametrize(("changes", "status", "message"), [
    ({"kind": UpscalerKind.SPANDREL}, 400, "built-in SR model or Lanczos only"),
    ({"kind": UpscalerKind.SD_X4}, 400, "built-in SR model or Lanczos only"),
    ({"scale": 4, "image": _png(40, 40), "source_width": 40, "source_height": 40}, 413,
     "160×160 result is larger"),
    ({"image": b"not an image"}, 400, "could not be read"),
    ({"image": _png(200, 200), "source_width": 20, "source_height": 20}, 413,
     "input image of 200×200"),
    ({"scale": 3}, 400, "scale"),
])
def test_bad_upscale_jobs_are_refused_before_any_work(api, changes, status, message) -> None:
    client, gateway = api
    response = _post(client, _upscale(**changes))
    assert response.status_code == status and message in response.json()["detail"]
    assert gateway.jobs == []


class ReplicaGateway:
    """The API's gateway on one in-process engine replica (what Serve does, without Ray)."""

    def __init__(self, replica: EngineReplica) -> None:
        self.replica = replica

    async def stream(self, job: str, model: str, request: dict):
        async for event in self.replica.run(request):
            yield event

    async def cancel(self, job: str) -> bool:
        return False


def test_a_remote_upscale_saves_the_same_bytes_as_a_local_one(tmp_path) -> None:
    factory = lambda: EngineContext.create(plan_device("cpu"), max_preview_fps=0)  # noqa: E731
    request = _upscale(model_path="")
    local = LocalBackend(IndexingSaver(OutputFolder(tmp_path / "local")), factory)
    local.start()
    try:
        local_final = run_to_end(local, request, lambda event: None)
    finally:
        local.shutdown(30)
    replica = EngineReplica(factory)
    server = LocalServer(ReplicaGateway(replica))
    remote = RemoteBackend(server.url, TOKEN, IndexingSaver(OutputFolder(tmp_path / "remote")),
                           read_timeout=30)
    remote.start()
    try:
        events, done = collect(remote)
        remote.submit(request)
        assert done.wait(60)
    finally:
        remote.shutdown(10)
        server.stop()
        replica.shutdown()
    final = events[-1]
    assert isinstance(local_final, JobFinished) and isinstance(final, JobFinished), final
    (ours,), (theirs,) = local_final.results, final.results
    assert theirs.path.read_bytes() == ours.path.read_bytes()
    assert theirs.path.name == ours.path.name and theirs.image.size == (64, 48)
    assert "Upscale" in theirs.infotext and theirs.infotext == ours.infotext
