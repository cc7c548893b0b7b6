"""Loads diffusers pipelines once and derives img2img/inpaint variants with `from_pipe`."""

from __future__ import annotations

import logging
from pathlib import Path

from studio.core.models import read_model_index
from studio.core.requests import JobKind
from studio.engine.device import DevicePlan

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model folder is missing, incomplete or corrupt."""


def _auto_class(kind: JobKind):  # noqa: ANN202
    import diffusers

    return {
        JobKind.TXT2IMG: diffusers.AutoPipelineForText2Image,
        JobKind.IMG2IMG: diffusers.AutoPipelineForImage2Image,
        JobKind.INPAINT: diffusers.AutoPipelineForInpainting,
    }[kind]


class PipelineCache:
    """Holds one loaded model; every job kind shares its modules (no reloads)."""

    def __init__(self, plan: DevicePlan) -> None:
        self.plan = plan
        self.model_path: Path | None = None
        self.load_count = 0
        self._pipes: dict[JobKind, object] = {}

    def get(self, model_path: Path, kind: JobKind):  # noqa: ANN201 - a diffusers pipeline
        """The pipeline for `kind` on `model_path`, loading the model only when it changes."""
        model_path = Path(model_path)
        if self.model_path != model_path:
            self.unload()
            self._pipes[JobKind.TXT2IMG] = self._load(model_path)
            self.model_path = model_path
        if kind not in self._pipes:
            self._pipes[kind] = _auto_class(kind).from_pipe(self._pipes[JobKind.TXT2IMG])
        return self._pipes[kind]

    def unload(self) -> None:
        self._pipes.clear()
        self.model_path = None

    def _load(self, model_path: Path):  # noqa: ANN202
        index = read_model_index(model_path)
        if index is None:
            raise ModelLoadError(
                f"Model folder {model_path} has no readable model_index.json "
                "(is it a diffusers model folder?)"
            )
        kwargs: dict[str, object] = {"dtype": self.plan.dtype, "local_files_only": True}
        if "safety_checker" in index:
            kwargs.update(safety_checker=None, requires_safety_checker=False)
        import diffusers

        diffusers.utils.logging.disable_progress_bar()
        try:
            pipe = _auto_class(JobKind.TXT2IMG).from_pretrained(str(model_path), **kwargs)
        except Exception as exc:  # diffusers raises many types for broken folders
            raise ModelLoadError(f"Could not load model {model_path.name}: {exc}") from exc
        pipe.to(self.plan.device)
        pipe.set_progress_bar_config(disable=True)
        self.load_count += 1
        log.info("loaded %s (%s) on %s", model_path, type(pipe).__name__, self.plan.device)
        return pipe
