"""Speed and memory options for loaded pipelines, and the out-of-memory fallback.

Options come from the environment (all off unless noted):

- `STUDIO_COMPILE=1`: `torch.compile` the UNet (first steps are slow while it compiles).
- `STUDIO_ATTENTION_SLICING=1`, `STUDIO_VAE_TILING=1`, `STUDIO_VAE_SLICING=1`.
- `STUDIO_CPU_OFFLOAD=1`: `enable_model_cpu_offload` (needs accelerate and CUDA).
- `STUDIO_CHANNELS_LAST=0`: turn off channels-last UNet memory format (on by default on CUDA).

Attention runs through PyTorch's scaled-dot-product attention (diffusers' default on torch 2).
On out-of-memory the runner first decodes again in tiles (when the steps were done), then
switches the pipeline to low-memory mode and retries the image once; each step is reported.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

from studio.engine.device import DevicePlan

log = logging.getLogger(__name__)
StatusCallback = Callable[[str], None]
R = TypeVar("R")


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class MemoryOptions:
    compile_unet: bool = False
    attention_slicing: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False
    cpu_offload: bool = False
    channels_last: bool = True

    @classmethod
    def from_env(cls) -> MemoryOptions:
        return cls(
            compile_unet=_flag("STUDIO_COMPILE"),
            attention_slicing=_flag("STUDIO_ATTENTION_SLICING"),
            vae_tiling=_flag("STUDIO_VAE_TILING"),
            vae_slicing=_flag("STUDIO_VAE_SLICING"),
            cpu_offload=_flag("STUDIO_CPU_OFFLOAD"),
            channels_last=_flag("STUDIO_CHANNELS_LAST", True),
        )


def offload_available(plan: DevicePlan) -> str | None:
    """None when model CPU offload can be used, else the reason it cannot."""
    if plan.device != "cuda":
        return "CPU offload skipped: it needs a CUDA GPU (the model already runs on the CPU)"
    try:
        import accelerate  # noqa: F401
    except ImportError:
        return "CPU offload skipped: the accelerate package is not installed"
    return None


def apply_options(pipe, plan: DevicePlan, options: MemoryOptions) -> list[str]:  # noqa: ANN001
    """Configure a freshly loaded pipeline; returns what was enabled or skipped, for the log."""
    notes = [f"attention: {attention_kind(pipe)}"]
    unet = getattr(pipe, "unet", None)
    if unet is not None and plan.device == "cuda" and options.channels_last:
        unet.to(memory_format=torch.channels_last)
        notes.append("channels-last UNet")
    if options.attention_slicing and hasattr(pipe, "enable_attention_slicing"):
        pipe.enable_attention_slicing()
        notes.append("attention slicing")
    notes += _vae_options(pipe, options.vae_tiling, options.vae_slicing)
    if options.cpu_offload:
        notes.append(_offload(pipe, plan))
    if options.compile_unet and unet is not None:
        pipe.unet = torch.compile(unet)
        notes.append("torch.compile UNet")
    log.info("pipeline options: %s", "; ".join(notes))
    return notes


def attention_kind(pipe) -> str:  # noqa: ANN001
    unet = getattr(pipe, "unet", None)
    processors = getattr(unet, "attn_processors", None) or {}
    names = {type(p).__name__ for p in processors.values()}
    return ", ".join(sorted(names)) or "none"


def _vae_options(pipe, tiling: bool, slicing: bool) -> list[str]:  # noqa: ANN001
    vae, notes = getattr(pipe, "vae", None), []
    if vae is None:
        return notes
    if tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
        notes.append("VAE tiling")
    if slicing and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
        notes.append("VAE slicing")
    return notes


def _offload(pipe, plan: DevicePlan) -> str:  # noqa: ANN001
    reason = offload_available(plan)
    if reason is not None:
        return reason
    pipe.enable_model_cpu_offload()
    return "model CPU offload"


def enable_low_memory(pipe, plan: DevicePlan) -> list[str]:  # noqa: ANN001
    """Everything that lowers peak memory without changing the image much."""
    notes = _vae_options(pipe, tiling=True, slicing=True)
    if hasattr(pipe, "enable_attention_slicing"):
        pipe.enable_attention_slicing()
        notes.append("attention slicing")
    if offload_available(plan) is None and not getattr(pipe, "_studio_offloaded", False):
        pipe.enable_model_cpu_offload()
        pipe._studio_offloaded = True
        notes.append("model CPU offload")
    return notes


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def decode_after_oom(decode: Callable[[], R], pipe, on_status: StatusCallback | None) -> R:  # noqa: ANN001
    """The steps finished but decoding ran out of memory: decode again in tiles."""
    free_memory()
    _vae_options(pipe, tiling=True, slicing=True)
    _report(on_status, "Out of memory while decoding: decoding again in tiles")
    return decode()


def run_with_fallback(attempt: Callable[[], R], pipe, plan: DevicePlan,  # noqa: ANN001
                      on_status: StatusCallback | None,
                      on_low_memory: Callable[[], None] | None = None) -> R:
    """Run `attempt`; on out-of-memory switch to low-memory mode and run it once more.

    A second out-of-memory propagates (the job fails with the out-of-memory message).
    """
    try:
        return attempt()
    except torch.OutOfMemoryError:
        log.warning("out of memory; retrying in low-memory mode", exc_info=True)
    free_memory()
    notes = enable_low_memory(pipe, plan)
    if on_low_memory is not None:
        on_low_memory()
    _report(on_status, f"Out of memory: retrying once with {', '.join(notes) or 'less memory'}")
    return attempt()


def _report(on_status: StatusCallback | None, text: str) -> None:
    log.warning(text)
    if on_status is not None:
        on_status(text)
