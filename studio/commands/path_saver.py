"""The CLI's saver: each image of a job to its planned path, claimed atomically, never lost.

Same bytes as the GUI's `ResultSaver` (the same `write_temp_png` with the same infotext);
only the published name differs. A taken name is never replaced: the next free numbered
name is claimed with a hard link (`x.png` → `x-2.png`, `x-3.png`, …; a batch's `x-1.png`
… `x-N.png` go on with `x-(N+1).png`), unless the plan says overwrite, which replaces
atomically but never an input. When the destination fails after the work, the image goes to
a fallback folder and the result says so in `save_error`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from PIL import Image

from studio.commands.destinations import (
    OutputPlan,
    Target,
    reason,
    same_file,
    upscaled_name,
)
from studio.core.outputs import OutputFolder, _claim, _fsync_dir, write_temp_png
from studio.core.records import ImageResult, ResultSaver
from studio.core.requests import GenerateRequest


class PathSaver(ResultSaver):
    """Saves image `index` of the job to `plan.targets[index]` (or the next free name)."""

    def __init__(self, plan: OutputPlan) -> None:
        super().__init__(OutputFolder(plan.fallback_dirs[0] if plan.fallback_dirs else Path()))
        self.plan = plan
        self._lock = threading.Lock()
        self._bases: dict[int, Path] = {}  # index -> where its image went
        self._next: dict[Path, int] = {}  # numbered base -> next number worth trying
        self.renamed: dict[Path, Path] = {}  # written path -> the planned path that was taken

    def save_with_infotext(self, job_id: int, index: int, image: Image.Image, request: object,
                           infotext: str, stem: str, steps_done: int | None = None
                           ) -> ImageResult:
        """Write to the planned path for `index`; the cascade's copy (`stem` -xN) beside it."""
        target = self._target(index, _upscaled_copy(request, stem))
        try:
            path: Path | None = self._publish(image, infotext, target)
            error = None
        except (OSError, ValueError) as exc:
            path, error = self._fallback(image, infotext, target.path, exc)
        if path is not None and not _upscaled_copy(request, stem):
            with self._lock:
                self._bases[index] = path
        return ImageResult(job_id, index, image, request, infotext, path, error, steps_done)

    def _target(self, index: int, upscaled: bool) -> Target:
        planned = self.plan.targets[min(index, len(self.plan.targets) - 1)]
        if not upscaled:
            return planned
        with self._lock:
            base = self._bases.get(index, planned.path)
        return Target(upscaled_name(base, self.plan.upscale_by))

    def _publish(self, image: Image.Image, infotext: str, target: Target) -> Path:
        folder = target.path.parent
        if self.plan.overwrite:
            return self._replace(image, infotext, target.path)
        tmp = write_temp_png(image, folder, infotext)
        try:
            for path in target.candidates(self._start(target)):
                if _claim(tmp, path):
                    self._claimed(target, path)
                    break
            else:
                raise OSError(f"no free numbered name next to {target.path}")
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(folder)
        return path

    def _replace(self, image: Image.Image, infotext: str, path: Path) -> Path:
        if any(same_file(path, source) for source in self.plan.protected):
            raise ValueError(f"{path} is an input of this command")
        tmp = write_temp_png(image, path.parent, infotext)
        try:
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)
        return path

    def _start(self, target: Target) -> int | None:
        with self._lock:
            return self._next.get(target.base)

    def _claimed(self, target: Target, path: Path) -> None:
        with self._lock:
            if path != target.path:
                self.renamed[path] = target.path
                number = int(path.stem.rsplit("-", 1)[1])
                self._next[target.base] = max(self._next.get(target.base, 0), number + 1)

    def _fallback(self, image: Image.Image, infotext: str, wanted: Path,
                  exc: BaseException) -> tuple[Path | None, str]:
        """Save where it can still go; (path or None, the message saying what happened)."""
        failed = f"could not write {wanted} ({reason(exc)})"
        last = ""
        for folder in self.plan.fallback_dirs:
            try:
                path = self._publish_free(image, infotext, folder / _safe_name(wanted))
            except (OSError, ValueError) as error:
                last = f"{folder}: {reason(error)}"
                continue
            return path, f"{failed}; saved to {path} instead"
        return None, f"{failed}; it could not be saved anywhere else either ({last})"

    @staticmethod
    def _publish_free(image: Image.Image, infotext: str, path: Path) -> Path:
        tmp = write_temp_png(image, path.parent, infotext)
        try:
            for candidate in Target(path).candidates():
                if _claim(tmp, candidate):
                    return candidate
        finally:
            tmp.unlink(missing_ok=True)
        raise OSError(f"no free name next to {path}")


def _upscaled_copy(request: object, stem: str) -> bool:
    """True for the cascade's upscaled copy (`ResultSaver.save_upscaled` names it `seed-xN`)."""
    return (isinstance(request, GenerateRequest) and request.upscale_by > 1
            and stem.endswith(f"-x{request.upscale_by}"))


def _safe_name(wanted: Path) -> str:
    """The wanted file name when usable anywhere, else a plain one."""
    name = wanted.name
    if "\0" in name or len(os.fsencode(name)) > 200 or not name.lower().endswith(".png"):
        return "studio-unsaved.png"
    return name
