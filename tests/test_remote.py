"""The serve API (auth, limits, model names) and the Remote engine, without Ray."""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from studio.core.backend import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobMoved,
    JobPreview,
    JobQueued,
    JobResult,
    JobStarted,
)
from studio.core.history import IndexingSaver
from studio.core.outputs import OutputFolder
from studio.core.request_codec import encode_request
from studio.core.requests import GenerateRequest
from studio.remote import protocol
from studio.remote.client import RemoteBackend
from studio.serve.api import ApiConfig, Limits, build_api
from tests.remote_helpers import TOKEN, FakeGateway, LocalServer, collect, free_port

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _job(**changes) -> dict:
    request = GenerateRequest(model_path="/home/me/models/tiny", model_name="tiny",
                              prompt="a cat", steps=3, width=64, height=64, seed=7)
    return {"request": encode_request(request.__class__(**{**request.__dict__, **changes}))}


@pytest.fixture
def api():
    gateway = FakeGateway()
    config = ApiConfig(TOKEN, {"tiny": "/srv/models/tiny"},
                       Limits(max_request_bytes=200_000, max_pixels=256 * 256))
    return TestClient(build_api(gateway, config)), gateway


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": TOKEN}])
def test_every_route_needs_the_token_and_no_job_starts(api, headers) -> None:
    client, gateway = api
    for method, path in (("get", "/health"), ("get", "/models"), ("post", "/jobs/x/cancel")):
        assert getattr(client, method)(path, headers=headers).status_code == 401
    response = client.post("/jobs", json=_job(), headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert gateway.jobs == []


def test_models_by_name_and_paths_are_the_servers(api) -> None:
    client, gateway = api
    assert client.get("/models", headers=AUTH).json() == {"models": [{"name": "tiny"}]}
    response = client.post("/jobs", json=_job(), headers=AUTH)
    assert response.status_code == 200
    lines = [protocol.loads(line) for line in response.content.splitlines()]
    assert [e["event"] for e in lines][:2] == ["accepted", "started"]
    assert lines[-1]["event"] == "finished"
    assert gateway.jobs[0]["model_path"] == "/srv/models/tiny"  # never the client's path
    bad = client.post("/jobs", json=_job(model_name="", model_path="/etc/passwd"), headers=AUTH)
    assert bad.status_code == 400 and "unknown model 'passwd'" in bad.json()["detail"]
    bad = client.post("/jobs", json=_job(upscale_by=2, upscaler="/tmp/evil.pth"), headers=AUTH)
    assert bad.status_code == 400
    bad = client.post("/jobs", json=_job(outpaint_fill_model="/tmp/evil.pth"), headers=AUTH)
    assert bad.status_code == 400 and "local engine only" in bad.json()["detail"]
    assert len(gateway.jobs) == 1


def test_sizes_are_bounded(api) -> None:
    client, gateway = api
    assert client.post("/jobs", json=_job(width=512, height=512),
                       headers=AUTH).status_code == 413
    big = Image.new("RGB", (400, 400))
    png = protocol.png_with_parameters(big, None)
    assert client.post("/jobs", json=_job(kind="img2img", init_image=png),
                       headers=AUTH).status_code == 413
    huge = b"{" + b" " * 300_000 + b"}"
    assert client.post("/jobs", content=huge, headers=AUTH).status_code == 413
    assert client.post("/jobs", content=b"not json", headers=AUTH).status_code == 400
    assert gateway.jobs == []


def test_preview_and_result_encoding_round_trip() -> None:
    import numpy as np

    frame = np.zeros((16, 24, 3), np.uint8)
    frame[..., 2] = 250
    back = protocol.decode_preview(protocol.encode_preview(frame))
    assert back.shape == (16, 24, 3) and back.dtype == np.uint8
    assert abs(int(back[5, 5, 2]) - 250) < 6
    image = Image.new("RGB", (8, 8), (1, 2, 3))
    data = protocol.loads(protocol.dumps(protocol.encode_result(
        type("R", (), {"image": image, "infotext": "p\nSteps: 3", "index": 2})(), "7")))
    got, infotext = protocol.decode_result(data)
    assert infotext == "p\nSteps: 3" and got.getpixel((0, 0)) == (1, 2, 3)
    assert data["index"] == 2 and data["stem"] == "7"


@pytest.fixture
def served(tmp_path):
    gateway = FakeGateway(steps=4, delay=0.02)
    server = LocalServer(gateway)
    saver = IndexingSaver(OutputFolder(tmp_path / "out"))
    backend = RemoteBackend(server.url, TOKEN, saver, read_timeout=5)
    backend.start()
    yield backend, gateway, server
    backend.shutdown(5)
    server.stop()


def test_remote_backend_streams_previews_and_saves_results_locally(served, tmp_path) -> None:
    backend, gateway, _ = served
    events, done = collect(backend)
    request = GenerateRequest(model_path="tiny", model_name="tiny", prompt="a cat", seed=7)
    job = backend.submit(request)
    assert isinstance(events[0], JobQueued) and events[0].job_id == job
    assert done.wait(10)
    kinds = [type(e) for e in events]
    assert JobStarted in kinds and kinds[-1] is JobFinished
    previews = [e for e in events if isinstance(e, JobPreview)]
    assert len(previews) == 4 and previews[0].image.shape == (8, 8, 3)
    result = next(e for e in events if isinstance(e, JobResult)).result
    assert result.path is not None and result.path.is_file() and result.path.parent.parent == \
        tmp_path / "out" and result.path.name.endswith("-7.png")
    with Image.open(result.path) as saved:
        assert saved.info["parameters"].startswith("remote prompt")
    assert events[-1].results == (result,) and not backend.busy
    assert backend.models() == ["tiny"] and backend.health()["ok"]


def test_waiting_jobs_cancel_and_move_locally(served) -> None:
    backend, gateway, _ = served
    gateway.steps, gateway.delay = 40, 0.05
    events, _ = collect(backend)
    request = GenerateRequest(model_path="tiny", model_name="tiny", prompt="x")
    ids = [backend.submit(request)]
    deadline = time.monotonic() + 5
    while not any(isinstance(e, JobStarted) for e in events):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    ids += [backend.submit(request) for _ in range(2)]
    assert backend.move(ids[2], 0)
    backend.cancel(ids[1])
    backend.cancel(ids[0])  # the running one: through the server
    deadline = time.monotonic() + 10
    while sum(isinstance(e, JobFinished | JobCancelled) for e in events) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    moved = [e for e in events if isinstance(e, JobMoved)]
    assert moved and moved[0].order == (ids[2], ids[1])
    assert {e.job_id for e in events if isinstance(e, JobCancelled)} == {ids[0], ids[1]}
    assert any(isinstance(e, JobFinished) and e.job_id == ids[2] for e in events)
    assert len(gateway.jobs) == 2  # the cancelled waiting job never reached the server


def test_a_dropped_stream_fails_the_job_and_the_next_one_runs(served) -> None:
    backend, gateway, _ = served
    gateway.die_after = 1
    events, done = collect(backend)
    request = GenerateRequest(model_path="tiny", model_name="tiny")
    first = backend.submit(request)
    assert done.wait(10)
    failed = events[-1]
    assert isinstance(failed, JobFailed) and failed.job_id == first
    assert "replica died" in failed.message and "Traceback" not in failed.message
    gateway.die_after, done = None, collect(backend)[1]
    backend.submit(request)
    assert done.wait(10) and isinstance(events[-1], JobFinished)


@pytest.mark.parametrize(("sent", "cause"), [
    ("lora", "lora"), ("out_of_memory", "out_of_memory"), ("", ""),
    ("rm -rf /", ""), (["lora"], ""), (None, ""),
])
def test_a_remote_failure_keeps_a_known_cause_only(served, sent, cause) -> None:
    backend, gateway, _ = served
    gateway.fail_with = {"message": "LoRA 'x' not found", "cause": sent}
    events, done = collect(backend)
    backend.submit(GenerateRequest(model_path="tiny", model_name="tiny", prompt="<lora:x>"))
    assert done.wait(10)
    failed = events[-1]
    assert isinstance(failed, JobFailed) and failed.cause == cause
    assert failed.message == "LoRA 'x' not found"


def test_a_dead_server_or_a_wrong_token_is_a_clear_failure(served, tmp_path) -> None:
    _, _, server = served
    saver = IndexingSaver(OutputFolder(tmp_path / "out2"))
    for url, token, words in ((server.url, "wrong", "refused the token (401)"),
                              (f"http://127.0.0.1:{free_port()}", TOKEN, "connection refused")):
        backend = RemoteBackend(url, token, saver, read_timeout=3)
        backend.start()
        events, done = collect(backend)
        backend.submit(GenerateRequest(model_path="tiny", model_name="tiny"))
        assert done.wait(10)
        assert isinstance(events[-1], JobFailed) and words in events[-1].message
        assert backend.shutdown(5)


def test_a_server_that_goes_silent_fails_the_job(tmp_path) -> None:
    gateway = FakeGateway(steps=2, delay=60)
    server = LocalServer(gateway)
    backend = RemoteBackend(server.url, TOKEN, IndexingSaver(OutputFolder(tmp_path)),
                            read_timeout=1)
    backend.start()
    events, done = collect(backend)
    try:
        backend.submit(GenerateRequest(model_path="tiny", model_name="tiny"))
        assert done.wait(15)  # heartbeats come every 5 s: silence for 1 s is a dead server
        assert isinstance(events[-1], JobFailed) and "stopped answering" in events[-1].message
    finally:
        backend.shutdown(5)
        server.stop()


def test_serve_without_ray_says_what_to_install(monkeypatch, capsys) -> None:
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    from studio.cli import main

    assert main(["serve"]) == 2
    assert "pip install -e '.[cluster]'" in capsys.readouterr().err


def test_help_and_the_remote_client_import_nothing_heavy() -> None:
    script = ("import sys\nfrom studio.cli import build_parser\nbuild_parser()\n"
              "import studio.remote.client\n"
              "print('HEAVY', [m for m in ('ray', 'torch', 'fastapi', 'PySide6', "
              "'studio.engine.local_backend') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert json.dumps  # keep the json import for readability of payloads above
