"""Engine benchmark: preview overhead, GUI lateness, cancel latency, engine vs diffusers.

Run: .venv/bin/python bench/engine_bench.py [--model PATH] [--steps 20] [--repeats 5]
Prints the numbers and writes bench/results/engine.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.core.outputs import OutputFolder  # noqa: E402
from studio.core.records import ResultSaver  # noqa: E402
from studio.core.requests import GenerateRequest  # noqa: E402
from studio.engine.context import EngineContext  # noqa: E402
from studio.engine.device import apply_threads, plan_device  # noqa: E402
from studio.engine.pipelines import PipelineCache  # noqa: E402
from studio.engine.runner import GenerationRunner, JobControl  # noqa: E402


def bench_model(folder: Path) -> Path:
    """A random-weight SD-layout model big enough that a step takes tens of milliseconds."""
    from tests.tiny_models import build_tiny_sd

    return build_tiny_sd(folder)


def timed(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def preview_and_direct(runner: GenerationRunner, request: GenerateRequest, repeats: int) -> dict:
    """Interleaved runs: engine with previews, engine without, the bare diffusers call."""
    from pathlib import Path as _P

    from studio.engine.schedulers import make_scheduler

    pipe = runner.cache.get(_P(request.model_path), request.kind)
    times: dict[str, list[float]] = {"previews": [], "previews_15fps": [], "no_previews": [],
                                     "direct": []}
    capped = GenerationRunner(runner.cache, max_preview_fps=15.0)

    def direct() -> None:
        pipe.scheduler = make_scheduler(request.scheduler, pipe.scheduler.config)
        pipe(**runner._pipe_kwargs(request))

    sink: list = []
    runs = {
        "previews": lambda: runner.run_one(request, JobControl(), lambda s, t, im: sink.append(im)),
        "previews_15fps": lambda: capped.run_one(request, JobControl(),
                                                 lambda s, t, im: sink.append(im)),
        "no_previews": lambda: runner.run_one(request, JobControl(), None),
        "direct": direct,
    }
    names = list(runs)
    for repeat in range(repeats):  # rotate the order so drift and warm caches even out
        for name in names[repeat % 4:] + names[:repeat % 4]:
            times[name].append(timed(runs[name]))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "median_s": med,
        "preview_overhead_ratio_every_step": med["previews"] / med["no_previews"],
        "preview_overhead_ratio_15fps": med["previews_15fps"] / med["no_previews"],
        "engine_vs_direct_ratio": med["previews_15fps"] / med["direct"],
    }


def gui_lateness_and_cancel(request: GenerateRequest, tmp: Path) -> dict:
    """Run jobs through the real worker + Qt signals; measure timer lateness and cancel."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from studio.engine.local_backend import LocalBackend
    from studio.ui.engine_signals import EngineSignals

    app = QApplication.instance() or QApplication([])
    plan = plan_device()
    worker = LocalBackend(ResultSaver(OutputFolder(tmp)),
                          lambda: EngineContext.create(plan, set_threads=False))
    signals = EngineSignals(worker)
    worker.start()
    lateness: list[float] = []
    state = {"last": time.perf_counter(), "done": 0, "cancel_at": None, "steps_after": []}
    timer = QTimer()
    timer.setInterval(10)

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - state["last"]) * 1000 - 10))
        state["last"] = now

    def on_preview(job, step, total, image) -> None:  # noqa: ANN001
        if state["cancel_at"] is not None and job == state["cancel_at"][0]:
            state["steps_after"][-1] = step - state["cancel_at"][1]
        elif job == cancel_job and step == total // 2:
            state["cancel_at"] = (job, step)
            state["steps_after"].append(0)
            worker.cancel(job)

    def on_end(*_args) -> None:  # noqa: ANN002
        state["done"] += 1
        if state["done"] == 2:
            app.quit()

    timer.timeout.connect(tick)
    signals.preview.connect(on_preview)
    for sig in (signals.finished, signals.cancelled, signals.failed):
        sig.connect(on_end)
    timer.start()
    worker.submit(request)
    cancel_job = worker.submit(request)
    app.exec()
    timer.stop()
    worker.shutdown()
    lat = sorted(lateness)
    return {
        "gui_lateness_ms_p50": lat[len(lat) // 2],
        "gui_lateness_ms_p99": lat[int(len(lat) * 0.99)],
        "timer_samples": len(lat),
        "cancel_latency_steps": max(state["steps_after"] or [0]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, help="model folder (default: built-in, else tiny)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "engine.json")
    args = parser.parse_args()
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    model = args.model or ROOT / "resources" / "models" / "emoji-sd"
    if not (model / "model_index.json").is_file():
        model = bench_model(tmp)
    from studio.core.models import native_resolution

    size = native_resolution(model) or 64
    request = GenerateRequest(model_path=str(model), prompt="red apple", steps=args.steps,
                              guidance=5.0, seed=1, width=size, height=size, scheduler="DDIM")
    plan = plan_device()
    apply_threads(plan)
    runner = GenerationRunner(PipelineCache(plan), max_preview_fps=0)
    runner.run_one(request, JobControl(), None)  # warm-up
    results = {"model": str(model), "size": size, "steps": args.steps, "device": plan.device,
               "threads": plan.threads}
    results.update(preview_and_direct(runner, request, args.repeats))
    results.update(gui_lateness_and_cancel(request, tmp))
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
