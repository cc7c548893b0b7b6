"""kill -9 in the middle of a batch: earlier results and the history index stay consistent."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from PIL import Image

from studio.core.history import DB_NAME, History
from studio.core.outputs import clean_temp_files, read_parameters

_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from studio.core.history import History, IndexingSaver
    from studio.core.outputs import OutputFolder
    from studio.core.requests import GenerateRequest
    from studio.engine.context import EngineContext
    from studio.engine.device import plan_device
    from studio.engine.worker import EngineWorker

    class Events:
        def job_result(self, result):
            print("result", result.path, flush=True)
        def __getattr__(self, name):
            return lambda *args: None

    root, model = Path(sys.argv[1]), sys.argv[2]
    saver = IndexingSaver(OutputFolder(root), History.open(root))
    ctx = EngineContext.create(plan_device("cpu"), max_preview_fps=0, set_threads=False)
    worker = EngineWorker(Events(), saver, lambda: ctx)
    worker.start()
    worker.submit(GenerateRequest(model_path=model, prompt="crash, test", steps=2, width=64,
                                  height=64, scheduler="DDIM", batch_count=100, seed=1))
    time.sleep(300)
""")


def _run_until_results(root: Path, model: Path, wanted: int) -> list[Path]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(root), str(model)],
                             stdout=subprocess.PIPE, text=True, env=env,
                             cwd=Path(__file__).resolve().parents[1])
    reported: list[Path] = []
    watchdog = threading.Timer(240, child.kill)  # a stuck child ends the test, not the run
    watchdog.start()
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            if line.startswith("result "):
                reported.append(Path(line.split(" ", 1)[1].strip()))
            if len(reported) >= wanted:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)  # mid-job: the batch has 100 images
        child.wait(timeout=60)
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL
    return reported


def test_sigkill_mid_job_keeps_every_earlier_result_and_a_consistent_index(tmp_path,
                                                                           tiny_model_dir):
    root = tmp_path / "outputs"
    reported = _run_until_results(root, tiny_model_dir, wanted=3)
    assert len(reported) == 3
    visible = sorted(p for p in root.glob("*/*.png") if not p.name.startswith("."))
    assert set(reported) <= set(visible)
    for path in visible:  # every published file is complete, with its parameters
        with Image.open(path) as image:
            image.load()
            assert image.size == (64, 64)
        assert read_parameters(path).startswith("crash, test\nSteps: 2")
    rows = sqlite3.connect(root / DB_NAME).execute("SELECT path FROM images").fetchall()
    assert len(rows) >= 3 and all(Path(r[0]).is_file() for r in rows)  # no dangling rows
    history = History.open(root)  # the next start: integrity ok, catches up with the files
    assert history.count() == len(visible)
    assert not [p for p in root.iterdir() if ".corrupt-" in p.name]
    clean_temp_files(root, older_than_s=0)
    assert not [p for p in root.rglob(".tmp-*")]


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX file modes")
def test_saved_images_get_the_umask_mode_not_the_temp_files_0600(tmp_path):
    from studio.core.outputs import OutputFolder, process_umask, write_png_atomic

    image = Image.new("RGB", (8, 8), "red")
    single = write_png_atomic(image, tmp_path / "a.png", "x")
    claimed = OutputFolder(tmp_path / "out").save(image, "x", "1")
    want = 0o666 & ~process_umask()
    assert want & 0o044  # the usual umask lets others read
    for path in (single, claimed):
        assert stat.S_IMODE(path.stat().st_mode) == want, path
