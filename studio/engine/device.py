"""Device, dtype and CPU thread policy for torch."""

from __future__ import annotations

import os
from dataclasses import dataclass


def configure_process_env() -> None:
    """Set OpenMP to yield instead of spin-waiting; must run before torch is imported.

    Measured here: spin-waiting OpenMP threads under any other load ran steps 30-70x slower.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")


@dataclass(frozen=True)
class DevicePlan:
    """Where and in which precision the pipelines run."""

    device: str
    dtype_name: str
    threads: int

    @property
    def dtype(self):  # noqa: ANN201 - torch dtype, torch imported lazily
        import torch

        return getattr(torch, self.dtype_name)


def plan_device(prefer: str | None = None) -> DevicePlan:
    """CUDA + fp16 when available (unless `prefer` says otherwise), else CPU fp32."""
    import torch

    wanted = prefer or os.environ.get("STUDIO_DEVICE", "auto")
    threads = int(os.environ.get("STUDIO_TORCH_THREADS", "0")) or _default_threads()
    if wanted in ("auto", "cuda") and torch.cuda.is_available():
        return DevicePlan("cuda", "float16", threads)
    return DevicePlan("cpu", "float32", threads)


def _default_threads() -> int:
    passive = os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1) if passive else 1


def apply_threads(plan: DevicePlan) -> None:
    import torch

    torch.set_num_threads(plan.threads)
