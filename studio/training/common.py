"""Shared training utilities: image folders, EMA, deterministic per-step RNG, checkpoints."""

from __future__ import annotations

import copy
import json
import os
import pickle
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from studio.core.safe_read import open_regular

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


@dataclass
class ImageSet:
    """Images as a float tensor in [-1, 1] (N, 3, H, W) with one caption per image."""

    images: torch.Tensor
    captions: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def list_images(folder: Path) -> list[Path]:
    """All image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (3, H, W) float tensor in [-1, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """(3, H, W) tensor in [-1, 1] -> RGB PIL image."""
    array = ((tensor.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def load_image_folder(folder: Path, size: int, captions: bool = True) -> ImageSet:
    """Load any folder of images, center-cropped and resized to ``size``.

    Captions come from sidecar ``.txt`` files with the same stem; missing ones are empty
    (unconditioned training).
    """
    files = list_images(folder)
    if not files:
        raise FileNotFoundError(f"no images found in {folder}")
    tensors, texts = [], []
    for path in files:
        with Image.open(path) as image:
            image = center_crop_resize(image.convert("RGB"), size)
        tensors.append(pil_to_tensor(image))
        sidecar = path.with_suffix(".txt")
        text = sidecar.read_text(encoding="utf-8").strip() if captions and sidecar.exists() else ""
        texts.append(text)
    return ImageSet(torch.stack(tensors), texts, [p.name for p in files])


def center_crop_resize(image: Image.Image, size: int) -> Image.Image:
    """Center-crop to a square and resize to ``size`` x ``size``."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return image.resize((size, size), Image.Resampling.BICUBIC)


def step_generator(seed: int, step: int, device: str | torch.device = "cpu") -> torch.Generator:
    """An RNG that depends only on (seed, step), so resumed runs draw identical batches."""
    generator = torch.Generator(device=device)
    generator.manual_seed((seed * 1_000_003 + step) % (2**63 - 1))
    return generator


def configure_cpu(threads: int) -> None:
    """Limit intra-op threads (the GUI needs a core) and use deterministic algorithms."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads > 0:
        torch.set_num_threads(threads)


class EMA:
    """Exponential moving average of a module's parameters and buffers."""

    def __init__(self, model: torch.nn.Module, decay: float = 0.999) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for ema_p, p in zip(self.model.parameters(), model.parameters(), strict=True):
            ema_p.lerp_(p.detach(), 1 - decay)
        for ema_b, b in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_b.copy_(b)


class CheckpointError(ValueError):
    """A checkpoint that is refused (not weights-only, so loading could run code) or unreadable."""


_PRIMITIVES = (str, int, float, bool, type(None))


def plain_state(value: Any) -> Any:
    """``value`` holding only tensors, primitives, dicts, lists and tuples.

    Paths become strings and numpy values tensors or Python numbers, so the checkpoint loads
    with ``weights_only=True``; containers without such values are returned as they are.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor) or type(value) in _PRIMITIVES:
        return value
    for base in (bool, int, float, str):  # an IntEnum, a str subclass: store the plain value
        if isinstance(value, base):
            return base.__str__(value) if base is str else base(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, dict):
        items = {_plain_key(k): plain_state(v) for k, v in value.items()}
        same = all(k in items and items[k] is v for k, v in value.items())
        return value if same else items
    if isinstance(value, list | tuple):
        items = [plain_state(v) for v in value]
        same = all(a is b for a, b in zip(items, value, strict=True))
        if same and type(value) in (list, tuple):
            return value
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(f"a {type(value).__name__} cannot be stored in a weights-only checkpoint")


def _plain_key(key: object) -> object:
    if isinstance(key, np.generic):
        return key.item()
    if isinstance(key, _PRIMITIVES):
        return key
    raise TypeError(f"a {type(key).__name__} key cannot be stored in a weights-only checkpoint")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write a checkpoint (write to a temp file, then rename).

    Only tensors and plain values are stored (see `plain_state`), so it loads weights-only.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(plain_state(state), tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """Load a checkpoint if it exists, weights-only (tensors and plain values, never code).

    A file that needs more to unpickle, or is not a readable checkpoint, raises CheckpointError.
    """
    if not path.exists():
        return None
    try:
        with open_regular(path) as handle:
            state = torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        name = _refused_global(exc)
        if name is None:
            raise CheckpointError(f"{path}: not a readable weights-only checkpoint") from None
        raise CheckpointError(
            f"{path}: refused: it references {name}, and unpickling it could run code; "
            "only checkpoints holding tensors and plain values are loaded"
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a checkpoint (holds a {type(state).__name__})")
    return state


_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]{1,200})")


def _refused_global(exc: Exception) -> str | None:
    """The Python name torch's weights-only unpickler refused, if that was the reason."""
    match = _GLOBAL_RE.search(str(exc))
    return match.group(1) if match else None


class JsonlLog:
    """Append-only JSON-lines training log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.start = time.time()

    def time_now(self) -> float:
        return time.time()

    def write(self, **record: Any) -> None:
        record.setdefault("time", round(time.time() - self.start, 2))
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")


def image_grid(images: Iterable[Image.Image], columns: int) -> Image.Image:
    """Paste equally sized images into a grid."""
    images = list(images)
    width, height = images[0].size
    rows = (len(images) + columns - 1) // columns
    grid = Image.new("RGB", (columns * width, rows * height), "white")
    for index, image in enumerate(images):
        grid.paste(image, ((index % columns) * width, (index // columns) * height))
    return grid
