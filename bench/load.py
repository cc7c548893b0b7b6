"""Load bench: a full-size single-file checkpoint vs the same weights as a diffusers folder.

    .venv/bin/python bench/load.py [--archs sd15,sdxl] [--workdir DIR]

For each architecture it builds random full-size fp16 weights from `resources/configs/`, saves
them as a diffusers folder and as one LDM-layout `.safetensors` (no tokenizer, no config next
to it), then times in fresh processes, through the engine (`PipelineCache`, CPU, fp32):
the file's first load in a fresh process (converts into the cache); then in one process, best
of two rounds, the folder, the file with the cache off (`from_single_file` every time) and the
file from the cache; and re-selecting the loaded model and switching file -> folder -> file.
Prints a table and writes bench/results/load.json. SDXL (~7 GB on disk twice, ~14 GB RAM
in fp32) is skipped when disk or memory is short. Everything is written under a temporary
folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "load.json"
NEEDS_GB = {"sd15": (6, 8), "sdxl": (22, 17)}  # (disk, available RAM) in GB


def _free_gb(folder: Path) -> tuple[float, float]:
    disk = shutil.disk_usage(folder).free / 1e9
    mem = 0.0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            mem = int(line.split()[1]) / 1e6
    return disk, mem


def build(arch: str, out: Path) -> tuple[Path, Path]:
    """Random fp16 weights of `arch` as `out/folder` (diffusers) and `out/model.safetensors`."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    sys.path.insert(0, str(ROOT))
    import diffusers

    from studio.engine.loading import CONFIGS_DIR, shipped_tokenizer
    from tests.ldm_export import export_ldm_checkpoint

    config = CONFIGS_DIR / arch
    index = json.loads((config / "model_index.json").read_text())
    parts: dict[str, object] = {}
    for name, (library, cls_name) in ((k, v) for k, v in index.items()
                                      if isinstance(v, list) and v[0]):
        folder = config / name
        if cls_name == "CLIPTokenizer":
            parts[name] = shipped_tokenizer(folder)
            continue
        if library == "transformers":
            cls = CLIPTextModelWithProjection if "Projection" in cls_name else CLIPTextModel
            model = cls(CLIPTextConfig.from_pretrained(str(folder)))
        elif cls_name == "UNet2DConditionModel":
            model = _random(UNet2DConditionModel, UNet2DConditionModel.load_config(str(folder)))
        elif cls_name == "AutoencoderKL":
            model = AutoencoderKL.from_config(AutoencoderKL.load_config(str(folder)))
        else:
            model = getattr(diffusers, cls_name).from_config(
                getattr(diffusers, cls_name).load_config(str(folder)))
        parts[name] = model.to(torch.float16) if hasattr(model, "parameters") else model
    extra = {"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}
    pipe_cls = getattr(diffusers, index["_class_name"])
    pipe = pipe_cls(**parts, **({} if "XL" in index["_class_name"] else extra))
    pipe.save_pretrained(str(out / "folder"))
    export_ldm_checkpoint(pipe, out / "model.safetensors")
    return out / "folder", out / "model.safetensors"


def _random(cls, config: dict):  # noqa: ANN001, ANN202 - fast fp16 random init, no fp32 copy
    import torch

    with torch.device("meta"):
        model = cls.from_config(config)
    model = model.to_empty(device="cpu").to(torch.float16)
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.02)
    return model


PROBE = r"""
import json, sys, time
from pathlib import Path
from studio.core.requests import JobKind
from studio.engine.device import plan_device
from studio.engine.pipelines import PipelineCache
mode, paths = sys.argv[1], [Path(p) for p in sys.argv[2:]]
cache = PipelineCache(plan_device("cpu"))
out = {}
def timed(key, path, kind=JobKind.TXT2IMG):
    start = time.perf_counter(); cache.get(path, kind)
    out[key] = round(time.perf_counter() - start, 2)
timed("load", paths[0])
out["notes"] = cache.take_warnings()
if mode == "alternate":  # same process, no import cost: min of 2 rounds each
    import gc, os
    for rnd in range(2):
        for key, path, cached in (("folder", paths[1], "1"), ("file, no cache", paths[0], "0"),
                                  ("file, from the cache", paths[0], "1")):
            os.environ["STUDIO_CONVERT_CACHE"] = cached
            cache.unload(); gc.collect(); timed("t", path)
            out[key] = min(out.get(key, 1e9), out.pop("t"))
if mode == "switch":
    before = cache.load_count
    timed("same model again", paths[0]); timed("img2img on it", paths[0], JobKind.IMG2IMG)
    out["reloads"] = cache.load_count - before
    timed("switch to folder", paths[1]); timed("switch back to file", paths[0])
print("RESULT " + json.dumps(out))
"""


def probe(mode: str, paths: list[Path], env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode, *map(str, paths)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=3600)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(lines[-1][7:])


def measure(folder: Path, file: Path, data: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), STUDIO_DATA=str(data), STUDIO_DEVICE="cpu",
               HF_HUB_OFFLINE="1", OMP_WAIT_POLICY="PASSIVE", STUDIO_CONVERT_CACHE="1")
    rows = {"file, first load in a fresh process (converts)": probe("load", [file], env),
            "one process, best of 2": probe("alternate", [file, folder], env),
            "switching (cached file, folder)": probe("switch", [file, folder], env)}
    rows["sizes_gb"] = {"file": round(file.stat().st_size / 1e9, 2),
                        "cache": round(sum(f.stat().st_size for f in data.rglob("*")
                                           if f.is_file()) / 1e9, 2)}
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default="sd15,sdxl")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "archs": {}}
    if RESULTS.is_file():  # architectures not run this time keep their last figures
        results["archs"] = json.loads(RESULTS.read_text()).get("archs", {})
    for arch in args.archs.split(","):
        disk, mem = _free_gb(args.workdir)
        need_disk, need_mem = NEEDS_GB[arch]
        if disk < need_disk or mem < need_mem:
            results["archs"][arch] = {"skipped": f"needs {need_disk} GB disk and {need_mem} GB "
                                      f"RAM free, have {disk:.0f} and {mem:.0f}"}
            continue
        work = Path(tempfile.mkdtemp(prefix=f"studio-load-{arch}-", dir=args.workdir))
        try:
            start = time.perf_counter()
            folder, file = build(arch, work)
            results["archs"][arch] = {"build_s": round(time.perf_counter() - start, 1),
                                      **measure(folder, file, work / "data")}
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _print(arch, results["archs"][arch])
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _print(arch: str, rows: dict) -> None:
    print(f"\n{arch}  (seconds; {rows.get('sizes_gb')})")
    for key, value in rows.items():
        if isinstance(value, dict) and key != "sizes_gb":
            shown = {k: v for k, v in value.items() if k != "notes"}
            print(f"  {key:<38} {shown}")


if __name__ == "__main__":
    raise SystemExit(main())
