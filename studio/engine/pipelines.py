"""Loads diffusers pipelines once and derives img2img/inpaint variants with `from_pipe`.

Sources: diffusers folders, single-file `.safetensors` checkpoints and Hugging Face ids from
the local cache (see `studio.engine.loading`); speed/memory options from `studio.engine.memory`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from studio.core.checkpoints import is_checkpoint_file, looks_like_hub_id
from studio.core.requests import JobKind
from studio.engine.converted import cache_root
from studio.engine.device import DevicePlan
from studio.engine.loading import (
    ModelLoadError,
    checked_model_index,
    hub_snapshot,
    load_single_file,
)
from studio.engine.memory import MemoryOptions, apply_options, enable_low_memory

log = logging.getLogger(__name__)
__all__ = ["ModelLoadError", "PipelineCache"]


def _auto_class(kind: JobKind):  # noqa: ANN202
    import diffusers

    return {
        JobKind.TXT2IMG: diffusers.AutoPipelineForText2Image,
        JobKind.IMG2IMG: diffusers.AutoPipelineForImage2Image,
        JobKind.INPAINT: diffusers.AutoPipelineForInpainting,
    }[kind]


class PipelineCache:
    """Holds one loaded model; every job kind shares its modules (no reloads)."""

    def __init__(self, plan: DevicePlan, options: MemoryOptions | None = None) -> None:
        self.plan = plan
        self.options = options or MemoryOptions.from_env()
        self.model_path: Path | None = None
        self.load_count = 0
        self.small_model = False
        self.low_memory = False  # set after an out-of-memory fallback; sticks for the model
        self.notes: list[str] = []
        self._pipes: dict[JobKind, object] = {}

    def get(self, model_path: Path, kind: JobKind):  # noqa: ANN201 - a diffusers pipeline
        """The pipeline for `kind` on `model_path`, loading the model only when it changes."""
        model_path = Path(model_path)
        if self.model_path != model_path:
            self.unload()
            self._pipes[JobKind.TXT2IMG] = self._load(model_path)
            self.model_path = model_path
        base = self._pipes[JobKind.TXT2IMG]
        if kind is not JobKind.INPAINT and _unet_in_channels(base) == 9:
            raise ModelLoadError(
                f"{model_path.name} is an inpainting model (9-channel UNet): use it for "
                "inpainting in the Edit tab, or pick a regular model for this job"
            )
        if kind not in self._pipes:
            self._pipes[kind] = _auto_class(kind).from_pipe(base)
            if self.low_memory:
                enable_low_memory(self._pipes[kind], self.plan)
        return self._pipes[kind]

    def take_warnings(self) -> list[str]:
        """Option notes the user should see once (a requested option that was skipped)."""
        warnings = [n for n in self.notes if _say_once(n)]
        self.notes = [n for n in self.notes if not _say_once(n)]
        return warnings

    def mark_low_memory(self) -> None:
        """After an out-of-memory fallback: pipelines derived later start in low-memory mode."""
        self.low_memory = True

    def unload(self) -> None:
        self._pipes.clear()
        self.model_path = None
        self.low_memory = False

    def _load(self, model_path: Path):  # noqa: ANN202
        import diffusers

        diffusers.utils.logging.disable_progress_bar()
        converted: list[str] = []
        if is_checkpoint_file(model_path):
            pipe = load_single_file(model_path, self.plan.dtype, cache_root(), converted)
        elif not model_path.exists() and looks_like_hub_id(str(model_path)):
            pipe = self._load_folder(hub_snapshot(str(model_path)))
        else:
            pipe = self._load_folder(model_path)
        pipe.to(self.plan.device)
        pipe.set_progress_bar_config(disable=True)
        self.notes = apply_options(pipe, self.plan, self.options) + converted
        self.small_model = is_small_model(pipe)
        threads_for_model(pipe, self.plan)
        self.load_count += 1
        log.info("loaded %s (%s) on %s", model_path, type(pipe).__name__, self.plan.device)
        return pipe

    def _load_folder(self, model_path: Path):  # noqa: ANN202
        index = checked_model_index(model_path)
        kwargs: dict[str, object] = {"dtype": self.plan.dtype, "local_files_only": True}
        if "safety_checker" in index:
            kwargs.update(safety_checker=None, requires_safety_checker=False)
        try:
            return _auto_class(JobKind.TXT2IMG).from_pretrained(str(model_path), **kwargs)
        except Exception as exc:  # diffusers raises many types for broken folders
            raise ModelLoadError(f"Could not load model {model_path.name}: {exc}") from exc


SMALL_MODEL_PARAMS = 50_000_000


def _say_once(note: str) -> bool:
    """Notes for the status bar: a skipped option, a single file converted into the cache."""
    return "skipped" in note or "conversion" in note or note.startswith("Converted ")


def threads_for_model(pipe, plan: DevicePlan) -> int:  # noqa: ANN001
    """CPU threads by model size, unless STUDIO_TORCH_THREADS says otherwise.

    Measured on 2 cores: the 11M-parameter built-in model ran 2.6x faster on 1 thread than on
    2 (thread sync dominates tiny ops); a full-size SD UNet ran 1.7x faster on 2 threads.
    """
    import os

    import torch

    if plan.device != "cpu":
        return torch.get_num_threads()
    threads = plan.threads
    if not os.environ.get("STUDIO_TORCH_THREADS") and is_small_model(pipe):
        threads = 1
    torch.set_num_threads(threads)
    return threads


def is_small_model(pipe) -> bool:  # noqa: ANN001
    """A UNet under SMALL_MODEL_PARAMS: steps take milliseconds on the CPU."""
    unet = getattr(pipe, "unet", None)
    if unet is None:
        return False
    return sum(p.numel() for p in unet.parameters()) < SMALL_MODEL_PARAMS


def _unet_in_channels(pipe) -> int:  # noqa: ANN001
    unet = getattr(pipe, "unet", None)
    return int(getattr(getattr(unet, "config", None), "in_channels", 4) or 4)
