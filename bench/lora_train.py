"""`studio train lora` on a set the built-in model has never seen: purple fruit.

    .venv/bin/python bench/lora_train.py data     # data/purple-fruit: 16 hue-rotated fruit
    .venv/bin/studio train lora --data data/purple-fruit --out runs/lora/purple-fruit.safetensors
    .venv/bin/python bench/lora_train.py eval [--lora runs/lora/purple-fruit.safetensors]

The data: the Noto fruit emoji (Food & Drink / food-fruit) but 3 held-out ones, each rendered
as the model's training set was and hue-rotated so that its mean hue becomes purple (280°),
captioned with the model's own caption plus ", purple". `eval` samples the same prompts and
seeds through the engine without and with `<lora:purple-fruit:1>` and measures how close the
samples come to the training set: nearest-neighbour pixel L2, nearest colour statistics in
Lab, and the hue of the fruit pixels against the purple target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "data" / "purple-fruit"
MODEL = ROOT / "resources" / "models" / "emoji-sd"
LORA = MODEL / "loras" / "purple-fruit.safetensors"  # as shipped; or --lora FILE
RESULT = ROOT / "bench" / "results" / "lora_train.json"
GRID = ROOT / "resources" / "models" / "logs" / "lora_before_after.png"
HELD_OUT = ("pear", "cherries", "coconut")
TARGET_HUE = 280.0  # degrees: purple
SEEDS = (0, 1, 2, 3)


def hue_rotate(image: Image.Image, target: float = TARGET_HUE) -> Image.Image:
    """Rotate all hues so that the mean hue of the coloured pixels becomes ``target``."""
    hsv = np.asarray(image.convert("HSV")).astype(np.float32)
    coloured = (hsv[..., 1] > 60) & (hsv[..., 2] > 40)
    angles = hsv[..., 0][coloured] / 255 * 2 * np.pi
    mean = np.degrees(np.arctan2(np.sin(angles).mean(), np.cos(angles).mean())) % 360
    hsv[..., 0] = (hsv[..., 0] + (target - mean) / 360 * 255) % 256
    return Image.fromarray(hsv.round().astype(np.uint8), "HSV").convert("RGB")


def make_data(out: Path = DATA) -> list[str]:
    from PIL import ImageFont

    from studio.data.emoji import FONT_PATH, parse_emoji_test, render_emoji

    font = ImageFont.truetype(str(FONT_PATH), 109)
    fruit = [e for e in parse_emoji_test() if e.subgroup == "food-fruit"]
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for entry in fruit:
        if entry.name in HELD_OUT:
            continue
        hue_rotate(render_emoji(font, entry.text, 64)).save(out / f"{entry.file_stem}.png")
        (out / f"{entry.file_stem}.txt").write_text(f"{entry.caption}, purple\n")
        names.append(entry.name)
    print(f"{len(names)} images in {out}: {', '.join(names)}")
    return names


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB in [0, 1] -> CIE Lab (D65)."""
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                             [0.0193, 0.1192, 0.9505]]).T / np.array([0.9505, 1.0, 1.089])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def colour_stats(image: np.ndarray) -> np.ndarray:
    """Mean and std of L, a, b over the non-white (foreground) pixels."""
    pixels = image.reshape(-1, 3)
    fg = pixels[(pixels < 0.92).any(axis=1)]
    lab = srgb_to_lab(fg if len(fg) >= 16 else pixels)
    return np.concatenate([lab.mean(axis=0), lab.std(axis=0)])


def hue_stats(image: Image.Image) -> tuple[float, float]:
    """Circular distance (degrees) of the coloured pixels' mean hue to the target, and the
    fraction of coloured pixels within 30 degrees of it."""
    hsv = np.asarray(image.convert("HSV")).astype(np.float32)
    coloured = (hsv[..., 1] > 60) & (hsv[..., 2] > 40)
    if coloured.sum() < 16:
        return 180.0, 0.0
    hues = hsv[..., 0][coloured] / 255 * 360
    off = np.abs((hues - TARGET_HUE + 180) % 360 - 180)
    angles = np.radians(hues)
    mean = np.degrees(np.arctan2(np.sin(angles).mean(), np.cos(angles).mean())) % 360
    return float(abs((mean - TARGET_HUE + 180) % 360 - 180)), float((off <= 30).mean())


def sample(prompts: list[str], lora: str | None) -> tuple[list[list[Image.Image]], float]:
    """prompts x SEEDS images through the engine (the GUI's path), optionally with the tag."""
    from studio.core.requests import GenerateRequest
    from studio.engine.control import JobControl
    from studio.engine.device import plan_device
    from studio.engine.pipelines import PipelineCache
    from studio.engine.runner import GenerationRunner

    runner = GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)
    start, rows = time.monotonic(), []
    for prompt in prompts:
        text = f"{prompt} <lora:{lora}:1>" if lora else prompt
        rows.append([runner.run_one(GenerateRequest(
            model_path=str(MODEL), prompt=text, steps=25, guidance=4.0, scheduler="DDPM",
            width=64, height=64, seed=seed), JobControl()).image.convert("RGB")
            for seed in SEEDS])
    return rows, (time.monotonic() - start) / (len(prompts) * len(SEEDS))


def measure(rows: list[list[Image.Image]], train: np.ndarray, paired: list[int | None]) -> dict:
    train_stats = np.stack([colour_stats(t) for t in train])
    nn_l2, paired_l2, lab, hue, purple = [], [], [], [], []
    for row, index in zip(rows, paired, strict=True):
        for image in row:
            x = np.asarray(image, dtype=np.float64) / 255
            rms = np.sqrt(((train - x) ** 2).mean(axis=(1, 2, 3)))
            nn_l2.append(rms.min())
            if index is not None:
                paired_l2.append(rms[index])
            lab.append(np.linalg.norm(train_stats - colour_stats(x), axis=1).min())
            off, share = hue_stats(image)
            hue.append(off)
            purple.append(share)
    values = {"nn_rms": nn_l2, "paired_rms": paired_l2, "nn_lab_stats": lab,
              "hue_off_deg": hue, "purple_share": purple}
    return {k: round(float(np.mean(v)), 4) for k, v in values.items() if v}


def evaluate(lora_file: Path) -> dict:
    """Before/after samples, the grid and the numbers (written to RESULT)."""
    import os

    from studio.core.prompts import expand_prompt, load_expansions
    from studio.training.common import image_grid, load_image_folder

    os.environ["STUDIO_LORAS"] = str(lora_file.parent)
    data = load_image_folder(DATA, 64)
    train = (data.images.permute(0, 2, 3, 1).numpy().astype(np.float64) + 1) / 2
    names = [c.split(",")[0] for c in data.captions]
    expansions = load_expansions(MODEL)
    sets = {"train": (names, list(range(len(names)))), "held_out": (list(HELD_OUT), None)}
    result: dict = {"lora": lora_file.name, "seeds": list(SEEDS), "steps": 25, "guidance": 4.0,
                    "sampler": "DDPM", "target_hue_deg": TARGET_HUE}
    grids = []
    for key, (prompt_names, paired) in sets.items():
        prompts = [expand_prompt(f"{n}, purple", expansions) for n in prompt_names]
        for label, lora in (("without", None), ("with", lora_file.stem)):
            rows, seconds = sample(prompts, lora)
            result[f"{key}_{label}"] = measure(rows, train, paired or [None] * len(rows))
            result[f"{key}_{label}"]["seconds_per_image"] = round(seconds, 3)
            if key == "train":
                grids.append([row[0] for row in rows[:8]])
    reference = [Image.fromarray((train[i] * 255).round().astype(np.uint8)) for i in range(8)]
    GRID.parent.mkdir(parents=True, exist_ok=True)
    grid = image_grid([*reference, *grids[0], *grids[1]], columns=8)
    grid.quantize(256).save(GRID, optimize=True)  # rows: training set, without, with
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("data", "eval"))
    parser.add_argument("--lora", type=Path, default=LORA, help="the trained .safetensors")
    args = parser.parse_args()
    if args.what == "data":
        make_data()
    else:
        evaluate(args.lora)


if __name__ == "__main__":
    main()
