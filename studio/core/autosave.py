"""Crash safety for work in progress: canvas autosave and a "session running" marker.

`Autosave.save(image, mask, meta)` writes `canvas-<gen>.png` (+ `mask-<gen>.png`) atomically,
then publishes them by atomically replacing `autosave.json`; older generations are removed only
after that, so a crash at any moment leaves the previous or the new snapshot, never a mix.

`SessionMarker.begin()` drops `session-<pid>.running` in the app data dir and reports whether a
previous session left its marker behind (its process is gone: it did not exit cleanly);
`end()` removes the marker on a clean exit.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from studio.core.outputs import TEMP_PREFIX, write_png_atomic

MANIFEST = "autosave.json"


@dataclass(frozen=True)
class Snapshot:
    """An autosaved canvas: the image, the optional inpainting mask and free-form metadata."""

    image: Image.Image
    mask: Image.Image | None
    meta: dict[str, object] = field(default_factory=dict)
    saved_at: float = 0.0


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Autosave:
    """Atomic snapshots of the canvas in `folder` (the app data dir's `autosave/`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._generation = 0

    def save(self, image: Image.Image, mask: Image.Image | None = None,
             meta: dict[str, object] | None = None) -> None:
        """Replace the snapshot with `image` (+ `mask`, + JSON-able `meta`). Raises OSError."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._generation = max(self._generation, int(time.time() * 1000)) + 1
        gen = f"{self._generation}"
        canvas_name = f"canvas-{gen}.png"
        mask_name = f"mask-{gen}.png" if mask is not None else None
        write_png_atomic(image, self.folder / canvas_name, None)
        if mask is not None and mask_name:
            write_png_atomic(mask, self.folder / mask_name, None)
        manifest = {"canvas": canvas_name, "mask": mask_name, "meta": meta or {},
                    "saved_at": time.time()}
        _write_text_atomic(self.folder / MANIFEST, json.dumps(manifest, default=str))
        self._remove_other_generations({canvas_name, mask_name})

    def _remove_other_generations(self, keep: set[str | None]) -> None:
        for path in self.folder.glob("*.png"):
            if path.name not in keep and path.name.startswith(("canvas-", "mask-", TEMP_PREFIX)):
                path.unlink(missing_ok=True)

    def load(self) -> Snapshot | None:
        """The last complete snapshot, or None (nothing saved, or unreadable)."""
        try:
            manifest = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
            image = _load_png(self.folder / str(manifest["canvas"]))
            mask_name = manifest.get("mask")
            mask = _load_png(self.folder / str(mask_name)) if mask_name else None
            meta = manifest.get("meta")
            return Snapshot(image, mask, meta if isinstance(meta, dict) else {},
                            float(manifest.get("saved_at", 0.0)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def clear(self) -> None:
        """Forget the snapshot (after it was restored or declined)."""
        (self.folder / MANIFEST).unlink(missing_ok=True)
        self._remove_other_generations(set())


def _load_png(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class SessionMarker:
    """`session-<pid>.running` files: present while a session runs, removed on clean exit."""

    def __init__(self, folder: Path, pid: int | None = None) -> None:
        self.folder = Path(folder)
        self.pid = os.getpid() if pid is None else pid
        self.path = self.folder / f"session-{self.pid}.running"

    def begin(self) -> bool:
        """Start this session; True when an earlier session ended without a clean exit."""
        self.folder.mkdir(parents=True, exist_ok=True)
        crashed = False
        for marker in self.folder.glob("session-*.running"):
            pid_text = marker.stem.removeprefix("session-")
            if marker == self.path or (pid_text.isdigit() and _pid_alive(int(pid_text))):
                continue  # our own, or another instance that is still running
            crashed = True
            marker.unlink(missing_ok=True)
        _write_text_atomic(self.path, json.dumps({"pid": self.pid, "started": time.time()}))
        return crashed

    def end(self) -> None:
        """Clean exit: remove this session's marker."""
        self.path.unlink(missing_ok=True)
