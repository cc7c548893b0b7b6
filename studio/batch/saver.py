"""The batch saver: each image to its item's output path, published atomically, never replaced.

The bytes are the single commands' (the same `write_temp_png` with the same infotext). The
image is written to a fsynced `.tmp-*` file beside its output and published with a hard-link
claim that fails when the name exists: an interrupted run leaves no partial output, and when
two workers finish the same item, the first one's file stays and the second is told so.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from studio.core.outputs import OutputFolder, _claim, _fsync_dir, write_temp_png
from studio.core.records import ImageResult, ResultSaver


class BatchSaver(ResultSaver):
    """Saves the running job's image to `target` (set before each job is submitted)."""

    def __init__(self) -> None:
        super().__init__(OutputFolder(Path()))
        self.target: Path | None = None
        self.existed = False  # the last save found its output already written

    def save_with_infotext(self, job_id: int, index: int, image: Image.Image, request: object,
                           infotext: str, stem: str, steps_done: int | None = None
                           ) -> ImageResult:
        target = self.target
        path: Path | None = None
        error: str | None = None
        if target is None:
            error = "no output path was set for this job"
        else:
            try:
                path = self._publish(image, infotext, target)
            except (OSError, ValueError) as exc:
                error = f"could not write {target}: {_reason(exc)}"
        return ImageResult(job_id, index, image, request, infotext, path, error, steps_done)

    def _publish(self, image: Image.Image, infotext: str, target: Path) -> Path:
        tmp = write_temp_png(image, target.parent, infotext)
        try:
            self.existed = not _claim(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return target


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
