"""GPU benchmark: full-size random-weight SD 1.5 (512²) and SDXL (1024²) UNets.

For each model: raw diffusers (eager fp16 UNet + Euler step) vs the UNet as Studio's engine
configures it (`studio.engine.memory.apply_options`: SDPA attention, channels-last, optional
`STUDIO_COMPILE=1`), in denoising iterations per second (CFG: batch 2 per step), plus the
preview overhead per step (x0 capture + latent→RGB projection). The UNet configs are the real
ones (`resources/configs/<arch>/unet/config.json`), the weights random: speed does not depend
on them.

Run: .venv/bin/python bench/gpu.py [--steps 20] [--models sd15,sdxl]
Needs a CUDA device; without one it prints "no CUDA device; skipped" and exits 0.
Writes bench/results/gpu.json. `--smoke` runs a tiny UNet on the CPU to check the script
itself (its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from studio.engine.device import DevicePlan  # noqa: E402
from studio.engine.loading import CONFIGS_DIR  # noqa: E402
from studio.engine.memory import MemoryOptions, apply_options  # noqa: E402
from studio.engine.preview import (  # noqa: E402
    SD1_FACTORS,
    SDXL_BIAS,
    SDXL_FACTORS,
    LinearPreview,
    X0Tap,
)

MODELS = {  # name -> (config folder, image size, text width, pooled width or None)
    "sd15": ("sd15", 512, 768, None),
    "sdxl": ("sdxl", 1024, 2048, 1280),
}


def build_unet(config_name: str, device: str, dtype: torch.dtype, tiny: bool = False):  # noqa: ANN201
    from diffusers import UNet2DConditionModel

    config = json.loads((CONFIGS_DIR / config_name / "unet" / "config.json").read_text())
    if tiny:
        config.update(block_out_channels=[32, 64], layers_per_block=1, attention_head_dim=8,
                      down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                      up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
                      transformer_layers_per_block=1)
    torch.manual_seed(0)
    return UNet2DConditionModel.from_config(config).to(device, dtype).eval()


def inputs(name: str, size: int, device: str, dtype: torch.dtype) -> dict:
    _, _, text_width, pooled = MODELS[name]
    latents = torch.randn(1, 4, size // 8, size // 8, device=device, dtype=dtype)
    cond = {"encoder_hidden_states": torch.randn(2, 77, text_width, device=device, dtype=dtype)}
    if pooled is not None:
        cond["added_cond_kwargs"] = {
            "text_embeds": torch.randn(2, pooled, device=device, dtype=dtype),
            "time_ids": torch.tensor([[size, size, 0, 0, size, size]] * 2, device=device,
                                     dtype=dtype),
        }
    return {"latents": latents, "cond": cond}


def denoise(unet, data: dict, steps: int, preview: LinearPreview | None) -> float:  # noqa: ANN001
    """Seconds for `steps` CFG Euler steps (UNet on batch 2), with or without x0 previews."""
    from diffusers import EulerDiscreteScheduler

    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                       beta_schedule="scaled_linear", steps_offset=1)
    scheduler.set_timesteps(steps, device=data["latents"].device)
    tap = X0Tap(scheduler) if preview is not None else None
    latents = data["latents"] * scheduler.init_noise_sigma
    sync()
    start = time.perf_counter()
    with torch.inference_mode():
        for t in scheduler.timesteps:
            model_in = scheduler.scale_model_input(torch.cat([latents] * 2), t)
            noise = unet(model_in, t, **data["cond"], return_dict=False)[0]
            uncond, text = noise.chunk(2)
            latents = scheduler.step(uncond + 7.0 * (text - uncond), t, latents,
                                     return_dict=False)[0]
            if preview is not None and tap is not None and tap.x0 is not None:
                preview.to_rgb(tap.x0)
    sync()
    return time.perf_counter() - start


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def bench_model(name: str, steps: int, device: str, dtype: torch.dtype, tiny: bool) -> dict:
    config_name, size, _, _ = MODELS[name]
    size = 64 if tiny else size
    data = inputs(name, size, device, dtype)
    preview = LinearPreview(SDXL_FACTORS, SDXL_BIAS) if name == "sdxl" else LinearPreview(
        SD1_FACTORS)
    raw = build_unet(config_name, device, dtype, tiny)
    denoise(raw, data, 2, None)  # warm-up (cuDNN autotune, allocator)
    raw_s = denoise(raw, data, steps, None)
    del raw
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    pipe = SimpleNamespace(unet=build_unet(config_name, device, dtype, tiny), vae=None)
    plan = DevicePlan(device, str(dtype).removeprefix("torch."), 1)
    notes = apply_options(pipe, plan, MemoryOptions.from_env())
    denoise(pipe.unet, data, 4 if "torch.compile UNet" in notes else 2, None)  # warm-up
    engine_s = denoise(pipe.unet, data, steps, None)
    preview_s = denoise(pipe.unet, data, steps, preview)
    return {
        "model": name, "size": size, "steps": steps, "dtype": str(dtype),
        "raw_diffusers_it_s": round(steps / raw_s, 3),
        "engine_it_s": round(steps / engine_s, 3),
        "engine_with_previews_it_s": round(steps / preview_s, 3),
        "preview_overhead_ms_per_step": round(1000 * (preview_s - engine_s) / steps, 3),
        "engine_options": notes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--models", default="sd15,sdxl")
    parser.add_argument("--smoke", action="store_true", help="tiny UNet on the CPU")
    args = parser.parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        print("no CUDA device; skipped (this benchmark measures GPU speed only)")
        return 0
    device, dtype = ("cpu", torch.float32) if args.smoke else ("cuda", torch.float16)
    rows = [bench_model(m, args.steps, device, dtype, args.smoke)
            for m in args.models.split(",")]
    for row in rows:
        print(f"{row['model']} {row['size']}²: raw diffusers {row['raw_diffusers_it_s']} it/s, "
              f"engine {row['engine_it_s']} it/s, with previews "
              f"{row['engine_with_previews_it_s']} it/s "
              f"(+{row['preview_overhead_ms_per_step']} ms/step); {row['engine_options']}")
    if not args.smoke:
        info = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
        out = ROOT / "bench" / "results" / "gpu.json"
        out.write_text(json.dumps({**info, "results": rows}, indent=2) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
