"""Single-file Stable Diffusion checkpoints: read the safetensors header, name the architecture.

Pure Python (no torch): the header is a little-endian u64 length followed by JSON describing
every tensor's dtype and shape, so detection costs a few kilobytes of reading.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from studio.core.safe_read import open_regular

CHECKPOINT_SUFFIXES = (".safetensors",)
_MAX_HEADER = 100 * 1024 * 1024
_UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
_SAMPLE = 1024 * 1024

# architecture -> (config folder under resources/configs, diffusers pipeline class)
ARCHITECTURES: dict[str, tuple[str, str]] = {
    "sd1": ("sd15", "StableDiffusionPipeline"),
    "sd1-inpaint": ("sd15-inpaint", "StableDiffusionInpaintPipeline"),
    "sd2": ("sd2-v", "StableDiffusionPipeline"),
    "sd2-inpaint": ("sd2-inpaint", "StableDiffusionInpaintPipeline"),
    "sdxl": ("sdxl", "StableDiffusionXLPipeline"),
    "sdxl-inpaint": ("sdxl-inpaint", "StableDiffusionXLInpaintPipeline"),
}


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint file holds; `problem` says why it cannot be used (None when it can)."""

    path: Path
    architecture: str | None
    problem: str | None = None

    @property
    def supported(self) -> bool:
        return self.problem is None and self.architecture in ARCHITECTURES

    @property
    def config_name(self) -> str:
        return ARCHITECTURES[self.architecture][0] if self.architecture else ""

    @property
    def pipeline_class(self) -> str:
        return ARCHITECTURES[self.architecture][1] if self.architecture else "?"


def _raw_header(path: Path) -> dict:
    with open_regular(path) as handle:  # a FIFO or device is refused, never blocks
        raw = handle.read(8)
        if len(raw) != 8:
            raise ValueError("file too short for a safetensors header")
        (size,) = struct.unpack("<Q", raw)
        if not 2 <= size <= _MAX_HEADER:
            raise ValueError(f"implausible safetensors header size {size}")
        header = json.loads(handle.read(size).decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("safetensors header is not a JSON object")
    return header


def read_header(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from a .safetensors file; raises ValueError when not one."""
    return {k: list(v.get("shape", [])) for k, v in _raw_header(path).items()
            if k != "__metadata__" and isinstance(v, dict)}


def weights_dtype(path: Path) -> str | None:
    """The safetensors dtype of the UNet weights ("F16", "BF16", "F32"), None when unknown."""
    try:
        entry = _raw_header(path).get(_UNET_IN)
    except (OSError, ValueError, UnicodeDecodeError, struct.error):
        return None
    return str(entry.get("dtype")) if isinstance(entry, dict) else None


def fingerprint(path: Path, extra: str = "") -> str:
    """A fast content key: size, mtime, the header and 1 MiB samples at the start, middle, end.

    Reads about 3 MiB whatever the file size (a full sha256 of a 7 GB file takes ~20 s).
    """
    digest = hashlib.sha256(extra.encode("utf-8"))
    with open_regular(path) as handle:
        info = os.fstat(handle.fileno())
        digest.update(f"{info.st_size}:{info.st_mtime_ns}".encode())
        head = handle.read(8)
        (size,) = struct.unpack("<Q", head) if len(head) == 8 else (0,)
        digest.update(head + handle.read(min(size, _MAX_HEADER)))
        for offset in (0, info.st_size // 2, max(0, info.st_size - _SAMPLE)):
            handle.seek(offset)
            digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()


def detect_architecture(shapes: dict[str, list[int]]) -> tuple[str | None, str | None]:
    """(architecture, problem) from tensor names and shapes in the original (LDM) layout."""
    keys = shapes.keys()
    if _UNET_IN not in shapes:
        return None, _foreign(keys)
    in_channels = shapes[_UNET_IN][1] if len(shapes[_UNET_IN]) > 1 else 0
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        arch = "sdxl"
    elif any(k.startswith("conditioner.embedders.0.") for k in keys):
        return "sdxl-refiner", "SDXL refiner checkpoints are not supported (use an SDXL base model)"
    elif any(k.startswith("cond_stage_model.model.") for k in keys):
        arch = "sd2"
    elif any(k.startswith("cond_stage_model.transformer.") for k in keys):
        arch = "sd1"
    else:
        return None, "no text encoder in the file (a UNet-only checkpoint is not supported)"
    if in_channels == 9:
        return f"{arch}-inpaint", None
    if in_channels != 4:
        return arch, f"the UNet takes {in_channels} input channels (expected 4 or 9)"
    return arch, None


def _foreign(keys) -> str:  # noqa: ANN001 - a dict keys view
    sample = " ".join(list(keys)[:200])
    for marker, name in (("double_blocks", "Flux"), ("joint_blocks", "SD3"),
                         ("lora_", "a LoRA"), ("adaLN", "a transformer (DiT)")):
        if marker in sample:
            return f"this looks like {name} checkpoint, which Studio does not load"
    return "not a Stable Diffusion checkpoint (no model.diffusion_model.* UNet weights)"


def inspect_checkpoint(path: Path) -> CheckpointInfo:
    """Never raises: unreadable files come back with a problem."""
    if Path(path).suffix.lower() in (".ckpt", ".pt", ".pth", ".bin"):
        return CheckpointInfo(Path(path), None, (
            "pickle checkpoints (.ckpt/.pt/.bin) can run code when loaded and are not opened; "
            "use the model's .safetensors file"))
    try:
        shapes = read_header(path)
    except (OSError, ValueError, UnicodeDecodeError, struct.error) as exc:
        return CheckpointInfo(Path(path), None, f"unreadable safetensors file: {exc}")
    arch, problem = detect_architecture(shapes)
    return CheckpointInfo(Path(path), arch, problem)


def is_checkpoint_file(path: Path) -> bool:
    return Path(path).suffix.lower() in CHECKPOINT_SUFFIXES and Path(path).is_file()


def looks_like_hub_id(spec: str) -> bool:
    """`owner/name` (a Hugging Face model id), not an existing path."""
    parts = spec.split("/")
    return (len(parts) == 2 and all(parts) and not spec.startswith((".", "~"))
            and not Path(spec).expanduser().exists())
