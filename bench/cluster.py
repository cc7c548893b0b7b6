"""Cluster bench, batch part: `studio batch upscale` locally vs Ray Data with 1 and 2 actors.

    .venv/bin/python bench/cluster.py [--images 20] [--size 64] [--scale 4]

Runs itself inside a loopback-only network namespace (`unshare -n`, as root) so that the local
Ray instance is reachable from nowhere else. The same small noise images are upscaled by the
built-in SR model on the CPU: once by the local runner (one process, the model loaded once),
then by Ray Data with 1 and with 2 actors (each actor loads the model once). Each wall time
includes starting the engine or the actors; `ray.init` is timed on its own. Every run's
outputs must be byte-identical. Prints a table and writes the numbers under "batch" in
bench/results/cluster.json, keeping whatever else is in that file (the remote-vs-local part).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "cluster.json"
_INSIDE = "STUDIO_BENCH_NETNS"


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--scale", type=int, choices=(2, 4), default=4)
    args = parser.parse_args()
    if not loopback_only():
        if os.environ.get(_INSIDE):
            print("bench/cluster.py: still not isolated; giving up", file=sys.stderr)
            return 2
        return reexec_isolated()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("STUDIO_TORCH_THREADS", "1")
    data = bench_batch(args.images, args.size, args.scale)
    print_table(data)
    merge_results("batch", data)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
