"""Cluster bench: `studio batch` locally vs Ray Data; `studio serve` (Remote) vs in-process.

    .venv/bin/python bench/cluster.py [--only batch|remote] [--images 20] [--size 64]
                                      [--scale 4] [--remote-images 10]

Runs itself inside a loopback-only network namespace (`unshare -n`, as root) so that the local
Ray instance is reachable from nowhere else. The same small noise images are upscaled by the
built-in SR model on the CPU: once by the local runner (one process, the model loaded once),
then by Ray Data with 1 and with 2 actors (each actor loads the model once). Each wall time
includes starting the engine or the actors; `ray.init` is timed on its own. Every run's
outputs must be byte-identical. Prints a table and writes the numbers under "batch" in
bench/results/cluster.json, keeping whatever else is in that file.

Remote part: the built-in emoji model (64 px, its studio.json sampler and steps) generates the
same prompts through a RemoteBackend talking to `studio serve` (one CPU replica) and through a
LocalBackend in this process, alternating image by image so that the machine's other load hits
both alike, after one warm-up image each (model loaded). Per-image time: submit → finished as
the caller sees it (result saved). Previews: inter-arrival gaps on both sides, and for the
remote run the delivery latency, receive time minus the replica's `t` stamp (time.time() in
both processes on one machine). Written under "remote".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "cluster.json"
_INSIDE = "STUDIO_BENCH_NETNS"
EMOJI = ROOT / "resources" / "models" / "emoji-sd"
PROMPTS = ("red apple", "cat face", "smiling sun", "blue heart", "green tree", "pizza slice",
           "yellow star", "dog face", "rocket", "birthday cake", "snowman", "banana")


def loopback_only() -> bool:
    try:
        return [name for _, name in socket.if_nameindex()] == ["lo"]
    except OSError:
        return False


def reexec_isolated() -> int:
    """Run this script again inside `unshare -n` with only loopback up."""
    if os.geteuid() != 0:
        print("bench/cluster.py: run it as root (it needs `unshare -n`) or inside a "
              "loopback-only network namespace", file=sys.stderr)
        return 2
    args = " ".join(f"'{a}'" for a in [sys.executable, *sys.argv])
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **{_INSIDE: "1"})
    return subprocess.call(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {args}"],
                           env=env)


def make_inputs(folder: Path, count: int, size: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        sub = folder / f"set{i % 2}"
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(sub / f"img{i:03d}.png")


def run_batch(src: Path, out: Path, scale: int, extra: list[str]) -> float:
    from studio.cli import main

    start = time.perf_counter()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # written paths
        code = main(["batch", "upscale", str(src), "--out", str(out), "--scale", str(scale),
                     "--device", "cpu", *extra])
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"batch failed (exit {code}) with {extra}")
    return wall


def steady_rate(out: Path) -> float:
    """Images per second between the first and the last output (start-up left out)."""
    times = sorted(p.stat().st_mtime for p in out.rglob("*.png"))
    span = times[-1] - times[0]
    return round((len(times) - 1) / span, 2) if span > 0 else 0.0


def same_outputs(a: Path, b: Path) -> bool:
    names = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    return names == sorted(p.relative_to(b) for p in b.rglob("*.png")) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def bench_batch(count: int, size: int, scale: int) -> dict:
    import ray

    work = Path(tempfile.mkdtemp(prefix="studio-cluster-bench-"))
    make_inputs(work / "in", count, size)
    runs: dict[str, dict] = {}
    local = run_batch(work / "in", work / "local", scale, [])
    runs["local"] = {"wall_s": round(local, 2), "images_per_s": round(count / local, 2),
                     "steady_images_per_s": steady_rate(work / "local")}
    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    init_s = time.perf_counter() - start
    try:
        for actors in (1, 2):
            out = work / f"ray{actors}"
            wall = run_batch(work / "in", out, scale, ["--ray", "local", "--actors",
                                                       str(actors)])
            runs[f"ray_{actors}_actor{'s' if actors > 1 else ''}"] = {
                "wall_s": round(wall, 2), "images_per_s": round(count / wall, 2),
                "steady_images_per_s": steady_rate(out),
                "same_bytes_as_local": same_outputs(work / "local", out)}
    finally:
        ray.shutdown()
    return {"images": count, "size": f"{size}x{size}", "scale": scale, "upscaler": "sr",
            "device": "cpu", "cpus": os.cpu_count(), "ray_init_s": round(init_s, 2),
            "load_average_1m": round(os.getloadavg()[0], 2), "runs": runs,
            "note": "wall_s includes starting the engine / the actors (torch import and model "
                    "load per actor); steady: first to last output; inside `unshare -n`"}


def merge_results(key: str, data: dict, path: Path = RESULTS) -> None:
    """Write `data` under `key`, keeping the file's other keys; atomically."""
    try:
        existing = json.loads(path.read_text())
        if not isinstance(existing, dict):
            existing = {}
    except (OSError, ValueError):
        existing = {}
    existing[key] = data
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(existing, indent=2) + "\n")
    os.replace(tmp, path)


def print_table(data: dict) -> None:
    print(f"studio batch upscale: {data['images']} images {data['size']} x{data['scale']} "
          f"(SR, CPU, {data['cpus']} CPUs, load {data['load_average_1m']}); "
          f"ray.init {data['ray_init_s']} s")
    print(f"{'runner':<16}{'wall s':>9}{'images/s':>10}{'steady/s':>10}  same bytes")
    for name, run in data["runs"].items():
        same = run.get("same_bytes_as_local", "-")
        print(f"{name:<16}{run['wall_s']:>9}{run['images_per_s']:>10}"
              f"{run['steady_images_per_s']:>10}  {same}")


# --- remote part: `studio serve` + RemoteBackend vs LocalBackend ----------------------------


@dataclass
class JobTiming:
    """One image: wall time as the caller sees it, preview arrivals, delivery latencies."""

    wall_s: float = 0.0
    arrivals: list[float] = field(default_factory=list)  # time.time() per preview received
    delivery_s: list[float] = field(default_factory=list)  # remote: receive - server's `t`
    final: Any = None
    path: Path | None = None
    marks: dict[str, float] = field(default_factory=dict)  # perf_counter: submit, started, ...


def timed_remote_class() -> type:
    from studio.remote.client import RemoteBackend

    class TimedRemote(RemoteBackend):
        """Records each preview's delivery latency once it is decoded and published."""

        timing: JobTiming | None = None

        def _handle(self, running: Any, data: dict[str, Any]) -> Any:
            final = super()._handle(running, data)
            if data.get("event") == "preview" and self.timing is not None and "t" in data:
                self.timing.delivery_s.append(time.time() - float(data["t"]))
            return final

    return TimedRemote


def emoji_request(prompt: str, seed: int) -> Any:
    from studio.core.models import model_defaults
    from studio.core.requests import GenerateRequest

    defaults = model_defaults(EMOJI)
    return GenerateRequest(model_path=str(EMOJI), model_name=EMOJI.name, prompt=prompt,
                           steps=int(defaults.get("steps", 25)),
                           guidance=float(defaults.get("guidance", 7.0)),
                           scheduler=str(defaults.get("scheduler", "Euler a")),
                           seed=seed, width=64, height=64)


def run_job(backend: Any, request: Any, timeout: float = 300.0) -> JobTiming:
    """Submit one job and wait for its final event; previews stamped as they arrive."""
    from studio.core.backend import FINAL_EVENTS, JobFinished, JobPreview, JobProgress, JobResult

    timing, done = JobTiming(), threading.Event()

    def listen(event: Any) -> None:
        timing.marks.setdefault(type(event).__name__, time.perf_counter())
        if isinstance(event, JobProgress):
            timing.marks["last_progress"] = time.perf_counter()
        if isinstance(event, JobPreview):
            timing.arrivals.append(time.time())
        elif isinstance(event, JobResult):
            timing.path = event.result.path
        elif isinstance(event, FINAL_EVENTS):
            timing.final = event
            done.set()

    backend.timing = timing
    unsubscribe = backend.subscribe(listen)
    try:
        start = timing.marks["submit"] = time.perf_counter()
        backend.submit(request)
        if not done.wait(timeout):
            raise SystemExit(f"no final event within {timeout:.0f} s")
        timing.wall_s = time.perf_counter() - start
    finally:
        unsubscribe()
    if not isinstance(timing.final, JobFinished):
        raise SystemExit(f"job did not finish: {timing.final}")
    return timing


def ms_percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of seconds, in milliseconds; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return round(ordered[rank - 1] * 1000, 1)


def gaps(timings: list[JobTiming]) -> list[float]:
    return [b - a for t in timings for a, b in zip(t.arrivals, t.arrivals[1:], strict=False)]


def same_pixels(a: Path | None, b: Path | None) -> bool:
    import numpy as np
    from PIL import Image

    if a is None or b is None:
        return False
    with Image.open(a) as left, Image.open(b) as right:
        return bool(np.array_equal(np.asarray(left), np.asarray(right)))


def phases(runs: list[JobTiming]) -> dict[str, float]:
    """Medians, ms: submit → started, started → last step, last step → finished (saved)."""
    spans = {"to_started_ms": ("submit", "JobStarted"),
             "steps_ms": ("JobStarted", "last_progress"),
             "last_step_to_finished_ms": ("last_progress", "JobFinished")}
    return {name: round(statistics.median(t.marks[b] - t.marks[a] for t in runs) * 1000, 1)
            for name, (a, b) in spans.items()}


def summarize(runs: list[JobTiming], remote: bool) -> dict[str, Any]:
    walls = [t.wall_s for t in runs]
    delivery = [d for t in runs for d in t.delivery_s]
    ms = ms_percentile
    data: dict[str, Any] = {
        "per_image_s_median": round(statistics.median(walls), 3),
        "per_image_s_min": round(min(walls), 3), "per_image_s_max": round(max(walls), 3),
        "per_image_s": [round(w, 3) for w in walls],
        **phases(runs),
        "previews_per_image": round(sum(len(t.arrivals) for t in runs) / len(runs), 1),
        "preview_gap_ms_p50": ms(gaps(runs), 50), "preview_gap_ms_p99": ms(gaps(runs), 99)}
    if remote:
        data.update(preview_delivery_ms_p50=ms(delivery, 50),
                    preview_delivery_ms_p99=ms(delivery, 99),
                    preview_delivery_ms_max=ms(delivery, 100), previews_timed=len(delivery))
    return data


def start_remote(work: Path) -> tuple[Any, Any, float]:
    """Ray on loopback, `studio serve` with one CPU replica, a RemoteBackend on it."""
    import ray

    from studio.core.outputs import OutputFolder
    from studio.core.records import ResultSaver
    from studio.serve.launch import ServeOptions, start_server

    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start_server(ServeOptions(port=port, token="bench", replicas=1))
    up_s = time.perf_counter() - start
    backend = timed_remote_class()(server.url, server.token,
                                   ResultSaver(OutputFolder(work / "remote")), read_timeout=120)
    backend.start()
    return server, backend, up_s


def start_local(work: Path) -> Any:
    from studio.core.outputs import OutputFolder
    from studio.core.records import ResultSaver
    from studio.engine.local_backend import LocalBackend

    backend = LocalBackend(ResultSaver(OutputFolder(work / "local")))
    backend.start()
    return backend


def alternate(local: Any, remote: Any, count: int) -> tuple[list, list, list[float]]:
    """One warm-up each, then the prompts alternately local/remote (order swapped each time)."""
    run_job(local, emoji_request("warm up", 99))
    run_job(remote, emoji_request("warm up", 99))
    local_runs, remote_runs, loads = [], [], []
    for i in range(count):
        request = emoji_request(PROMPTS[i % len(PROMPTS)], 1000 + i)
        pair = [(local, local_runs), (remote, remote_runs)]
        for backend, runs in pair if i % 2 == 0 else pair[::-1]:
            runs.append(run_job(backend, request))
        loads.append(os.getloadavg()[0])
    return local_runs, remote_runs, loads


def bench_remote(count: int) -> dict[str, Any]:
    from studio.serve.launch import stop_server

    work = Path(tempfile.mkdtemp(prefix="studio-remote-bench-"))
    local = start_local(work)
    server, remote, up_s = start_remote(work)
    try:
        local_runs, remote_runs, loads = alternate(local, remote, count)
    finally:
        remote.shutdown(10)
        local.shutdown(10)
        stop_server()
    request = emoji_request("", 0)
    local_data, remote_data = summarize(local_runs, False), summarize(remote_runs, True)
    return {
        "model": EMOJI.name, "size": "64x64", "steps": request.steps,
        "scheduler": request.scheduler, "guidance": request.guidance, "images": count,
        "replicas": server.replicas, "cpus": os.cpu_count(), "server_up_s": round(up_s, 2),
        "load_average_1m": {"min": round(min(loads), 2), "median": round(
            statistics.median(loads), 2), "max": round(max(loads), 2)},
        "ratio_remote_over_local": round(remote_data["per_image_s_median"]
                                         / local_data["per_image_s_median"], 3),
        "ratio_paired_median": round(statistics.median(
            b.wall_s / a.wall_s for a, b in zip(local_runs, remote_runs, strict=True)), 3),
        "same_pixels": all(same_pixels(a.path, b.path)
                           for a, b in zip(local_runs, remote_runs, strict=True)),
        "local": local_data, "remote": remote_data,
        "note": "per image: submit -> finished seen by the caller (result saved); median after "
                "one warm-up image each, local and remote alternating; delivery: client "
                "receive time (decoded, published) minus the replica's time.time() stamp"}


def print_remote_table(data: dict[str, Any]) -> None:
    load = data["load_average_1m"]
    print(f"\nremote vs local: {data['model']} {data['size']}, {data['steps']} steps "
          f"{data['scheduler']}, {data['images']} images each, {data['cpus']} CPUs, load 1m "
          f"{load['min']}-{load['max']} (median {load['median']}); server up "
          f"{data['server_up_s']} s")
    local, remote = data["local"], data["remote"]
    rows = [("per image s, median", "per_image_s_median"), ("per image s, min", "per_image_s_min"),
            ("per image s, max", "per_image_s_max"), ("submit->started ms", "to_started_ms"),
            ("started->last step ms", "steps_ms"),
            ("last step->finished ms", "last_step_to_finished_ms"),
            ("previews per image", "previews_per_image"),
            ("preview gap ms p50", "preview_gap_ms_p50"),
            ("preview gap ms p99", "preview_gap_ms_p99"),
            ("preview delivery ms p50", "preview_delivery_ms_p50"),
            ("preview delivery ms p99", "preview_delivery_ms_p99")]
    print(f"{'':<26}{'local':>10}{'remote':>10}")
    for label, key in rows:
        print(f"{label:<26}{local.get(key, '-'):>10}{remote.get(key, '-'):>10}")
    print(f"ratio remote/local (median per image): {data['ratio_remote_over_local']}x "
          f"(goal <= 1.15x); median of paired ratios {data['ratio_paired_median']}x; "
          f"same pixels: {data['same_pixels']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--scale", type=int, choices=(2, 4), default=4)
    parser.add_argument("--remote-images", type=int, default=10)
    parser.add_argument("--only", choices=("batch", "remote"))
    args = parser.parse_args()
    if not loopback_only():
        if os.environ.get(_INSIDE):
            print("bench/cluster.py: still not isolated; giving up", file=sys.stderr)
            return 2
        return reexec_isolated()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("STUDIO_TORCH_THREADS", "1")
    from studio.engine.device import configure_process_env

    configure_process_env()  # before torch: OpenMP threads yield instead of spinning
    if args.only != "remote":
        data = bench_batch(args.images, args.size, args.scale)
        print_table(data)
        merge_results("batch", data)
    if args.only != "batch":
        remote = bench_remote(max(5, args.remote_images))
        print_remote_table(remote)
        merge_results("remote", remote)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
