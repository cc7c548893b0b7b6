"""Upscale bench: fidelity and sharpness vs bicubic, CPU speed, peak memory vs input size.

    .venv/bin/python bench/upscale_bench.py [--threads 2] [--crop 256]

Held-out photos: data/photos/eval (or data/photos/holdout), written by `studio data photos`;
without them, centre crops of /usr/share/backgrounds. Each photo crop is the ground truth
(HR); it is downscaled (antialiased bicubic) by the scale, upscaled back by each method and
compared with PSNR / SSIM (luma) and sharpness (mean |Laplacian| relative to the HR).
Speed and memory use the SR architecture (the trained weights when exported, else random
weights of the same shape: the cost does not depend on the values). Prints its numbers and
writes bench/results/upscale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core.tiling import seam_ratio, tile_borders  # noqa: E402
from studio.core.upscale import UpscalerKind, make_request  # noqa: E402
from studio.core.upscaler_catalog import EMBEDDED_SR_DIR  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "upscale.json"
PHOTO_DIRS = [ROOT / "data" / "photos" / "holdout", ROOT / "data" / "photos" / "eval"]
FALLBACK = Path("/usr/share/backgrounds")
BENCH_SR = Path("/tmp/studio-bench-sr")


def holdout_photos(crop: int, limit: int = 8) -> tuple[str, list[Image.Image]]:
    for folder in PHOTO_DIRS:
        files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg"))
        if files:
            break
    else:
        folder = FALLBACK
        files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg"))
    crops = []
    for path in files[:limit]:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
        if min(rgb.size) < crop:
            rgb = rgb.resize((max(crop, rgb.width), max(crop, rgb.height)))
        left, top = (rgb.width - crop) // 2, (rgb.height - crop) // 2
        crops.append(rgb.crop((left, top, left + crop, top + crop)))
    return str(folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder), crops


# ----- metrics -------------------------------------------------------------------------------
def luma(image: Image.Image) -> np.ndarray:
    a = np.asarray(image.convert("RGB"), dtype=np.float64)
    return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _blur(x: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    radius = int(3 * sigma)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    x = np.apply_along_axis(lambda r: np.convolve(r, k, mode="valid"), 1, x)
    return np.apply_along_axis(lambda c: np.convolve(c, k, mode="valid"), 0, x)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Gaussian-window SSIM (Wang et al. 2004) on luma."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _blur(a), _blur(b)
    var_a = _blur(a * a) - mu_a**2
    var_b = _blur(b * b) - mu_b**2
    cov = _blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def sharpness(y: np.ndarray) -> float:
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return float(np.mean(np.abs(lap)))


# ----- methods -------------------------------------------------------------------------------
def _engine_upscale(image: Image.Image, kind: UpscalerKind, scale: int, tile: int = 0,
                    overlap: int = -1, model_path: str = "") -> Image.Image:
    from studio.engine.upscale_job import upscale_image
    from studio.engine.upscalers import load_upscaler

    request = make_request(image, kind=kind, scale=scale, tile=tile, overlap=overlap,
                           model_path=model_path)
    request.validate()
    return upscale_image(request, load_upscaler(request, _CACHE), _control(), max_fps=0)


_CACHE: dict[str, object] = {}


def _control():  # noqa: ANN202
    from studio.engine.runner import JobControl

    return JobControl()


def methods(sr_dir: Path | None) -> dict:
    out = {
        "bicubic": lambda im, s: im.resize((im.width * s, im.height * s), Image.Resampling.BICUBIC),
        "lanczos": lambda im, s: _engine_upscale(im, UpscalerKind.LANCZOS, s),
    }
    if sr_dir is not None:
        path = str(sr_dir)
        out["sr (single pass)"] = lambda im, s: _engine_upscale(im, UpscalerKind.SR, s, 2048, 0,
                                                                path)
        out["sr (tiled 64/16)"] = lambda im, s: _engine_upscale(im, UpscalerKind.SR, s, 64, 16,
                                                               path)
    return out


def quality(photos: list[Image.Image], sr_dir: Path | None) -> dict:
    results: dict[str, dict] = {}
    for scale in (2, 4):
        rows: dict[str, list[tuple[float, float, float]]] = {}
        for hr in photos:
            lr = hr.resize((hr.width // scale, hr.height // scale), Image.Resampling.BICUBIC)
            y_hr = luma(hr)
            for name, fn in methods(sr_dir).items():
                y = luma(fn(lr, scale))
                rel = sharpness(y) / max(sharpness(y_hr), 1e-8)
                rows.setdefault(name, []).append((psnr(y, y_hr), ssim(y, y_hr), rel))
        results[f"x{scale}"] = {
            name: dict(zip(("psnr_db", "ssim", "sharpness_vs_hr"),
                           (round(float(v), 4) for v in np.mean(vals, axis=0)), strict=True))
            for name, vals in rows.items()
        }
    return results


def seams(photos: list[Image.Image], sr_dir: Path | None) -> dict:
    """Tiled (64 px, overlap 16) vs single-pass SR at 2x: seam ratio at the tile borders
    (vs the single pass at the same lines) and the pixel difference between the two."""
    from studio.engine.runner import JobControl
    from studio.engine.upscale_job import upscale_image

    upscaler = _sr_upscaler(sr_dir)
    tiled_ratio, single_ratio, mean_diff, max_diff = [], [], [], []
    for photo in photos:
        lr = photo.resize((photo.width // 2, photo.height // 2), Image.Resampling.BICUBIC)
        outs = []
        for tile, overlap in ((64, 16), (2048, 0)):
            request = make_request(lr, kind=UpscalerKind.SR, scale=2, tile=tile,
                                   overlap=overlap, model_path="bench")
            outs.append(np.asarray(upscale_image(request, upscaler, JobControl(), max_fps=0)))
        bx, by = tile_borders(lr.width, 64, 16, 2), tile_borders(lr.height, 64, 16, 2)
        tiled_ratio.append(seam_ratio(outs[0], bx, by, phase=2))
        single_ratio.append(seam_ratio(outs[1], bx, by, phase=2))
        diff = np.abs(outs[0].astype(int) - outs[1].astype(int))
        mean_diff.append(diff.mean())
        max_diff.append(diff.max())
    return {"model": upscaler.name,
            "seam_ratio_tiled_64_16": round(float(np.mean(tiled_ratio)), 4),
            "seam_ratio_single_pass_same_lines": round(float(np.mean(single_ratio)), 4),
            "tiled_vs_single_mean_abs_diff": round(float(np.mean(mean_diff)), 4),
            "tiled_vs_single_max_abs_diff": int(np.max(max_diff))}


# ----- speed and memory (each in a fresh process: ru_maxrss is per process) -------------------
def _sr_upscaler(sr_dir: Path | None):  # noqa: ANN202
    import torch

    from studio.engine.upscalers import ResidualSRUpscaler
    from studio.training.sr import ResidualSR, load_sr_model

    if sr_dir is not None:
        return ResidualSRUpscaler(load_sr_model(sr_dir), sr_dir.name)
    torch.manual_seed(0)
    return ResidualSRUpscaler(ResidualSR(32, 6), "sr-residual (random weights)")


def child(size: int, scale: int, kind: str, threads: int, sr_dir: Path | None) -> dict:
    import resource

    import psutil
    import torch

    from studio.engine.runner import JobControl
    from studio.engine.upscale_job import upscale_image
    from studio.engine.upscalers import Upscaler

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    image = Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8))
    upscaler = _sr_upscaler(sr_dir) if kind == "sr" else Upscaler()
    request = make_request(image, kind=UpscalerKind(kind), scale=scale, model_path="bench")
    base = psutil.Process().memory_info().rss
    start = time.perf_counter()
    out = upscale_image(request, upscaler, JobControl(), max_fps=0)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"input": f"{size}x{size}", "scale": scale, "method": kind,
            "tiles": request.tile_count(), "tile": request.tiling()[0],
            "output_mp": round(out.width * out.height / 1e6, 3),
            "seconds": round(seconds, 3),
            "seconds_per_output_mp": round(seconds / (out.width * out.height / 1e6), 3),
            "peak_rss_mb": round(peak / 2**20, 1),
            "peak_over_baseline_mb": round(max(peak - base, 0) / 2**20, 1)}


def run_child(size: int, scale: int, kind: str, threads: int, sr_dir: Path | None) -> dict:
    cmd = [sys.executable, __file__, "--child", str(size), str(scale), kind, "--threads",
           str(threads)] + (["--sr", str(sr_dir)] if sr_dir else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {row}")
    return row


def bench_trained_sr(minutes: float) -> Path:
    """The embedded SR model is not exported yet: train the same recipe briefly for the bench
    (1 thread, into /tmp; the shipped model is not touched)."""
    from studio.training.sr import SRConfig, train_sr

    out = BENCH_SR
    train = ROOT / "data" / "photos" / "train"
    config = SRConfig(data=str(train), out=str(out / "run"), export=str(out / "sr-bench"),
                      max_minutes=minutes, max_steps=100_000, threads=1)
    return train_sr(config)


def pick_sr(args: argparse.Namespace) -> tuple[Path | None, str]:
    if args.sr:
        return Path(args.sr), f"given: {args.sr}"
    if (EMBEDDED_SR_DIR / "model.safetensors").is_file():
        return EMBEDDED_SR_DIR, "embedded (resources/models/sr-residual)"
    if args.train_minutes > 0 and (ROOT / "data" / "photos" / "train").is_dir():
        folder = BENCH_SR / "sr-bench"
        if not (folder / "model.safetensors").is_file():  # trained by an earlier run: reuse
            folder = bench_trained_sr(args.train_minutes)
        steps = json.loads((folder / "config.json").read_text()).get("steps")
        return folder, f"embedded missing; the same recipe trained by this bench for " \
                       f"{steps} steps (1 thread, ~{args.train_minutes:g} min)"
    return None, "missing (speed/memory/seams with random weights of the same architecture)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--sr", help="SR model folder (default: the embedded one)")
    parser.add_argument("--train-minutes", type=float, default=0.0,
                        help="when the embedded SR model is missing, train one this long")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        size, scale, kind = args.child
        sr = Path(args.sr) if args.sr else None
        print(json.dumps(child(int(size), int(scale), kind, args.threads, sr)))
        return 0
    import torch

    sr_dir, sr_note = pick_sr(args)
    torch.set_num_threads(args.threads)
    source, photos = holdout_photos(args.crop)
    print(f"photos: {len(photos)} crops of {args.crop}px from {source}; SR model: {sr_note}")
    report: dict[str, object] = {"photos": source, "crop": args.crop, "threads": args.threads,
                                 "sr_model": sr_note, "cpu": f"{os.cpu_count()} cores, shared"}
    report["quality"] = quality(photos, sr_dir)
    print(json.dumps(report["quality"], indent=2))
    report["seams"] = seams(photos, sr_dir)
    print("seams:", report["seams"])
    print("speed (seconds per output megapixel):")
    report["speed"] = [run_child(256, s, k, args.threads, sr_dir) for k in ("sr", "lanczos")
                       for s in (2, 4)]
    print("peak memory vs input size (SR 2x, tiles of 256):")
    report["memory"] = [run_child(n, 2, "sr", args.threads, sr_dir)
                        for n in (128, 512, 1024, 2048)]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
