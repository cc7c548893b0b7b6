"""`studio serve` on a local Ray instance (loopback only) driven by the Remote engine."""

from __future__ import annotations

import http.client
import json
import time

import pytest
from PIL import Image

from studio.core.backend import (
    JobCancelled,
    JobFailed,
    JobFinished,
    JobPreview,
    JobProgress,
    JobResult,
)
from studio.core.history import IndexingSaver
from studio.core.outputs import OutputFolder
from studio.core.request_codec import encode_request
from studio.core.requests import GenerateRequest
from studio.remote import protocol
from studio.remote.client import RemoteBackend
from tests.remote_helpers import collect, free_port

pytestmark = pytest.mark.ray
TOKEN = "ray-test-token"


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    import ray

    from studio.serve.launch import ServeOptions, start_server, stop_server

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        running = start_server(ServeOptions(
            port=free_port(), token=TOKEN, replicas=2, replica_cpus=0.5,
            model_dirs=(tiny_model_dir.parent,)))
        yield running
    finally:
        stop_server()


def _request(tiny_model_dir, steps: int = 6, seed: int = 3) -> GenerateRequest:
    return GenerateRequest(model_path=str(tiny_model_dir), model_name=tiny_model_dir.name,
                           prompt="a red cube", steps=steps, width=64, height=64, seed=seed,
                           guidance=1.0)


def _remote(server, tmp_path) -> RemoteBackend:
    backend = RemoteBackend(server.url, server.token,
                            IndexingSaver(OutputFolder(tmp_path / "out")), read_timeout=60)
    backend.start()
    return backend


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_previews_arrive_and_the_result_is_saved_locally(server, tiny_model_dir,
                                                          tmp_path) -> None:
    backend = _remote(server, tmp_path)
    events, done = collect(backend)
    try:
        assert tiny_model_dir.name in backend.models()
        backend.submit(_request(tiny_model_dir))
        assert done.wait(240)
    finally:
        backend.shutdown(10)
    assert isinstance(events[-1], JobFinished), events[-1]
    previews = [e for e in events if isinstance(e, JobPreview)]
    assert previews and previews[0].image.ndim == 3 and previews[0].image.shape[2] == 3
    assert previews[0].image.dtype.name == "uint8"  # the latent-size projection
    result = next(e for e in events if isinstance(e, JobResult)).result
    assert result.path.is_file() and result.path.name.endswith("-3.png")
    with Image.open(result.path) as saved:
        params = saved.info["parameters"]
    assert params.startswith("a red cube") and "Steps: 6" in params and "Seed: 3" in params
    assert f"Model: {tiny_model_dir.name}" in params


def test_cancel_mid_job_stops_and_the_next_job_runs(server, tiny_model_dir, tmp_path) -> None:
    backend = _remote(server, tmp_path)
    events, _ = collect(backend)
    try:
        job = backend.submit(_request(tiny_model_dir, steps=1000))
        _wait(lambda: any(isinstance(e, JobProgress) and e.step >= 2 for e in events), 240)
        backend.cancel(job)
        cancelled_at = time.monotonic()
        _wait(lambda: isinstance(events[-1], JobCancelled | JobFailed), 30)
        assert isinstance(events[-1], JobCancelled) and time.monotonic() - cancelled_at < 10
        assert max(e.step for e in events if isinstance(e, JobProgress)) < 1000
        backend.submit(_request(tiny_model_dir, steps=3))
        _wait(lambda: isinstance(events[-1], JobFinished), 240)
    finally:
        backend.shutdown(10)


def _post_job(server, token: str | None, request: GenerateRequest):
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=60)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", "/jobs", json.dumps({"request": encode_request(request)}), headers)
    return conn, conn.getresponse()


def _jobs_started(server) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=30)
    conn.request("GET", "/health", headers={"Authorization": f"Bearer {server.token}"})
    return json.loads(conn.getresponse().read())["jobs_started"]


def test_a_wrong_or_missing_token_gets_401_and_starts_no_job(server, tiny_model_dir) -> None:
    before = _jobs_started(server)
    for token in (None, "wrong"):
        conn, response = _post_job(server, token, _request(tiny_model_dir))
        assert response.status == 401
        conn.close()
    assert _jobs_started(server) == before


def test_a_killed_replica_fails_its_job_and_the_next_job_succeeds(server, tiny_model_dir,
                                                                  tmp_path) -> None:
    import ray

    conn, response = _post_job(server, server.token, _request(tiny_model_dir, steps=1000))
    assert response.status == 200
    replica, last = None, {}
    while (last := protocol.loads(response.readline())).get("event") != "progress":
        replica = last.get("replica", replica)
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
             if a["name"].endswith(f"#{replica}")]
    assert replica and len(names) == 1, names
    ray.kill(ray.get_actor(names[0], namespace="serve"))
    while (last := protocol.loads(response.readline()))["event"] not in (
            "finished", "failed", "cancelled"):
        pass
    conn.close()
    assert last["event"] == "failed" and "replica running this job stopped" in last["message"]
    backend = _remote(server, tmp_path)
    events, done = collect(backend)
    try:
        backend.submit(_request(tiny_model_dir, steps=3))
        assert done.wait(240)
        assert isinstance(events[-1], JobFinished), events[-1]
    finally:
        backend.shutdown(10)


def test_the_window_on_the_remote_engine_shows_previews_and_a_finished_image(
        qtbot, server, tiny_model_dir, tmp_path) -> None:
    from PySide6.QtCore import Qt

    from studio.app import AppConfig, build_app
    from studio.ui.engine_settings import EngineChoice

    config = AppConfig(outputs_root=tmp_path / "out", embedded_models_dir=tmp_path / "none")
    window, local = build_app(config, lambda: None)
    window.confirm_close = False
    qtbot.addWidget(window)
    window.show()
    previews: list[int] = []
    window.signals.preview.connect(lambda job, step, total, image: previews.append(step))
    try:
        assert window.engine_switch(EngineChoice("remote", server.url, server.token)) is None
        assert window.model_picker.select_name(tiny_model_dir.name)
        panel = window.panel
        panel.steps.setValue(8)
        panel.width_box.setValue(64)
        panel.height_box.setValue(64)
        qtbot.keyClicks(panel.prompt, "a red cube")
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.gallery.count() == 1, timeout=240_000)
        assert previews and not window.canvas.is_preview
        assert len(list((tmp_path / "out").rglob("*.png"))) == 1
    finally:
        window.engine_switch.close()
        local.shutdown(timeout=10)
