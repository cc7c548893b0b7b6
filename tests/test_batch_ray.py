"""`studio batch --ray` on a local Ray instance (loopback only): a batch of 40 images on two
actors, its driver killed half-way and the batch resumed, gives every output exactly once,
with the local run's bytes."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from studio.batch.ray_runner import actor_plan
from studio.cli import main
from tests.cli_helpers import studio
from tests.hostile_helpers import run_guarded
from tests.test_batch import make_tree, outputs
from tests.upscale_helpers import build_tiny_sr

pytestmark = pytest.mark.ray
COUNT = 40


def _loopback_only() -> bool:
    """True inside a network namespace that has only `lo` (`unshare -n`)."""
    try:
        return [name for _, name in socket.if_nameindex()] == ["lo"]
    except OSError:
        return False


@pytest.fixture(scope="module")
def ray_address():
    """One Ray instance for the module, on 127.0.0.1, inside a loopback-only namespace."""
    if not _loopback_only():
        pytest.skip("Ray tests run in a loopback-only network namespace: "
                    "unshare -n sh -c 'ip link set lo up; pytest -m ray'")
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        if started:
            ray.shutdown()


@pytest.fixture(scope="module")
def batch_inputs(tmp_path_factory: pytest.TempPathFactory):
    """40 small images in a tree, the tiny SR model, and the local runner's outputs."""
    root = tmp_path_factory.mktemp("batch")
    sr = build_tiny_sr(root)
    make_tree(root / "in", COUNT)
    argv = ["batch", "upscale", str(root / "in"), "--scale", "2", "--model", str(sr),
            "--device", "cpu"]
    assert run_guarded(lambda: main([*argv, "--out", str(root / "local")]), 120) == 0
    return root, argv


def test_killed_driver_then_resume_gives_each_output_once_with_local_bytes(
        ray_address, batch_inputs):
    root, argv = batch_inputs
    out = root / "ray"
    driver = studio(*argv, "--out", str(out), "--ray", ray_address, "--actors", "2",
                    env={"RAY_USAGE_STATS_ENABLED": "0"})
    try:
        _wait_for_outputs(driver, out, 8, timeout=90)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=30)
    first = outputs(out)
    assert 8 <= len(first) < COUNT, len(first)
    time.sleep(1.0)  # actors of the dead driver are being stopped; any late claim is harmless
    code = run_guarded(lambda: main([*argv, "--out", str(out), "--ray", "local", "--actors",
                                     "2"]), 120)
    assert code == 0
    names = outputs(out)
    assert names == outputs(root / "local") and len(names) == COUNT
    for name in names:  # every file complete, the same bytes (pixels and infotext) as locally
        assert (out / name).read_bytes() == (root / "local" / name).read_bytes(), name


def test_ray_failures_are_listed_like_the_local_runs(ray_address, batch_inputs, tmp_path,
                                                    capsys):
    root, argv = batch_inputs
    src = tmp_path / "in"
    make_tree(src, 2)
    (src / "bad.png").write_text("not an image")
    argv = ["batch", "upscale", str(src), "--out", str(tmp_path / "o"), "--scale", "2",
            "--model", "lanczos", "--ray", "local", "--actors", "1"]
    assert run_guarded(lambda: main(argv), 90) == 1
    err = capsys.readouterr().err
    assert "2 written, 0 already done, 1 failed" in err
    assert any(line.startswith("  bad.png: cannot read input image") for line in err.splitlines())


def test_actor_plan_leaves_a_cpu_free_and_gives_each_gpu_an_actor():
    two = actor_plan(2.0, 0.0, 2)
    assert two.actors == 2 and two.cpus * 2 <= 1.0 and two.gpus == 0
    assert actor_plan(2.0, 0.0, None).cpus <= 1.0
    gpus = actor_plan(16.0, 4.0, None)
    assert gpus.actors == 4 and gpus.gpus == 1.0
    assert actor_plan(16.0, 4.0, None, device="cpu").gpus == 0


def _wait_for_outputs(process, out: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.is_dir() and len(outputs(out)) >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"the driver ended early: {process.stderr.read()[-3000:]}")
        time.sleep(0.05)
    pytest.fail(f"fewer than {count} outputs after {timeout} s")
