"""Shared set-up for the CLI tests: inputs on disk and each command's minimal arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("generate", "img2img", "inpaint", "upscale")


def write_inputs(folder: Path) -> tuple[Path, Path]:
    """A 40×32 noise image and a mask with a white square: (image, mask)."""
    rng = np.random.default_rng(0)
    image = folder / "in.png"
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(image)
    mask = Image.new("L", (40, 32), 0)
    mask.paste(255, (10, 8, 30, 24))
    mask.save(folder / "mask.png")
    return image, folder / "mask.png"


def command_args(command: str, folder: Path, model: Path) -> list[str]:
    """Minimal, valid arguments for `command` (1-2 steps on the tiny model), without --output."""
    image, mask = folder / "in.png", folder / "mask.png"
    if not image.exists():
        write_inputs(folder)
    if command == "generate":
        return ["generate", "--prompt", "apple", "--steps", "1", "--model", str(model)]
    if command == "img2img":
        return ["img2img", "--image", str(image), "--prompt", "apple", "--steps", "2",
                "--model", str(model)]
    if command == "inpaint":
        return ["inpaint", "--image", str(image), "--mask", str(mask), "--steps", "1",
                "--model", str(model)]
    return ["upscale", "--image", str(image), "--scale", "2", "--model", "lanczos"]


def studio(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m studio ARGS` started in the background (stdout/stderr piped, text)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "studio", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env, cwd=ROOT)


def pngs(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.png")}
