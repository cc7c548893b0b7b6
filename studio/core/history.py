"""Persistent history of every saved image: a SQLite (WAL) index over the outputs folder.

The PNGs are the source of truth; the index only makes browsing and search fast. It is written
after a PNG is on disk, lives next to the images (`.studio-history.sqlite3`), and is rebuilt
from the PNGs' `parameters` chunks when it is missing, stale or corrupt. Deleting moves the
file to `.trash/` (undoable); nothing is ever destroyed by the history itself.
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from studio.core.infotext import MAX_INFOTEXT_CHARS
from studio.core.metadata import ImageParameters, parameters_from_image, parameters_from_infotext
from studio.core.outputs import TEMP_PREFIX, OutputFolder
from studio.core.records import ImageResult, ResultSaver

log = logging.getLogger(__name__)
DB_NAME = ".studio-history.sqlite3"
TRASH_DIR = ".trash"
THUMB_SIZE = 192
MASK_SUFFIX = ".mask.png"  # an inpaint mask saved beside its result: not an image of its own
_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    prompt TEXT NOT NULL DEFAULT '',
    negative TEXT NOT NULL DEFAULT '',
    infotext TEXT NOT NULL DEFAULT '',
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    thumb BLOB
);
CREATE INDEX IF NOT EXISTS images_created ON images(created);
"""
_COLUMNS = "id, path, created, prompt, negative, infotext, width, height, thumb"


@dataclass(frozen=True)
class HistoryEntry:
    """One indexed image."""

    id: int
    path: Path
    created: float
    prompt: str
    negative: str
    infotext: str
    width: int
    height: int
    thumb: bytes

    @property
    def parameters(self) -> ImageParameters:
        return parameters_from_infotext(self.infotext) if self.infotext else ImageParameters()


@dataclass(frozen=True)
class Deleted:
    """A deletion that can be undone: the entry and where its file went."""

    entry: HistoryEntry
    trash_path: Path


def make_thumbnail(image: Image.Image, size: int = THUMB_SIZE) -> bytes:
    """A small PNG of `image` (aspect kept) for the history grid."""
    thumb = image.convert("RGB")
    thumb.thumbnail((size, size))
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def mask_of(path: Path) -> Path:
    """Where the inpaint mask of the result `path` is saved (it may not exist)."""
    return path.with_suffix(MASK_SUFFIX)


def _visible_pngs(root: Path) -> list[Path]:
    """PNGs in `root` and its (non-hidden) subfolders; temp, trash and mask files excluded."""
    if not root.is_dir():
        return []
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] != ".")
    return [p for folder in folders for p in sorted(folder.glob("*.png"))
            if not p.name.startswith((".", TEMP_PREFIX))
            and not p.name.lower().endswith(MASK_SUFFIX)]


class History:
    """Thread-safe index (the engine thread adds, the GUI thread reads/deletes)."""

    def __init__(self, root: Path, db_path: Path | None = None) -> None:
        self.root = Path(root)
        self.db_path = db_path or self.root / DB_NAME
        self._lock = threading.RLock()
        self._undo: list[Deleted] = []
        self._conn = self._connect()

    # ----- opening, rebuilding -----------------------------------------------------------------
    @classmethod
    def open(cls, root: Path, db_path: Path | None = None, sync: bool = True) -> History:
        """Open (creating, or replacing a corrupt index); with `sync`, index PNGs it lacks
        (else call `sync_with_disk` yourself, e.g. on a background thread)."""
        try:
            history = cls(root, db_path)
            history._check()
        except sqlite3.DatabaseError as exc:
            index = db_path or Path(root) / DB_NAME
            log.warning("history index %s is unreadable (%s); rebuilding", index, exc)
            cls._move_aside(index)
            history = cls(root, db_path)
        if sync:
            history.sync_with_disk()
        return history

    def _connect(self) -> sqlite3.Connection:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, check_same_thread=False, timeout=10)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _check(self) -> None:
        row = self._conn.execute("PRAGMA quick_check").fetchone()
        if not row or row[0] != "ok":
            self._conn.close()
            raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else 'no answer'}")

    @staticmethod
    def _move_aside(db_path: Path) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{db_path}{suffix}")
            if path.exists():
                os.replace(path, path.with_name(f"{path.name}.corrupt-{stamp}"))

    def sync_with_disk(self) -> tuple[int, int]:
        """Index PNGs that are missing from the index, forget rows whose file is gone."""
        on_disk = {str(p): p for p in _visible_pngs(self.root)}
        with self._lock:
            known = {row[0] for row in self._conn.execute("SELECT path FROM images")}
            gone = known - on_disk.keys()
            self._conn.executemany("DELETE FROM images WHERE path = ?", [(p,) for p in gone])
            self._conn.commit()
        added = sum(self.add(on_disk[p]) is not None for p in sorted(on_disk.keys() - known))
        return added, len(gone)

    def rebuild(self) -> int:
        """Forget everything and re-index from the PNGs; returns how many were indexed."""
        with self._lock:
            self._conn.execute("DELETE FROM images")
            self._conn.commit()
        return self.sync_with_disk()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ----- adding and reading ----------------------------------------------------------------
    def add(self, path: Path, infotext: str | None = None,
            image: Image.Image | None = None) -> int | None:
        """Index a PNG that is already on disk; returns its id (None if unreadable)."""
        path = Path(path)
        parsed: ImageParameters | None = None
        try:
            if image is None or infotext is None:
                with Image.open(path) as opened:
                    opened.load()
                    text = opened.info.get("parameters")
                    if infotext is None:  # any generator's prompt (Fooocus, NovelAI...) for search
                        parsed = parameters_from_image(opened)
                    infotext = infotext if infotext is not None else (
                        text if isinstance(text, str) else "")
                    image = opened.copy() if image is None else image
            created = path.stat().st_mtime
        except Exception as exc:  # noqa: BLE001 - a broken file is skipped, never fatal
            log.warning("not indexing %s: %s", path, exc)
            return None
        if len(infotext) > MAX_INFOTEXT_CHARS:  # hostile or absurd: keep the index small
            log.warning("%s: parameters text of %d characters cut to %d", path, len(infotext),
                        MAX_INFOTEXT_CHARS)
            infotext = infotext[:MAX_INFOTEXT_CHARS]
        params = parsed or (parameters_from_infotext(infotext) if infotext else ImageParameters())
        row = (str(path), created, params.prompt or "", params.negative_prompt or "", infotext,
               image.width, image.height, make_thumbnail(image))
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO images (path, created, prompt, negative, infotext, width, height,"
                " thumb) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET"
                " infotext = excluded.infotext, prompt = excluded.prompt,"
                " negative = excluded.negative, thumb = excluded.thumb RETURNING id", row)
            new_id = int(cursor.fetchone()[0])
            self._conn.commit()
        return new_id

    def search(self, text: str = "", limit: int = 500) -> list[HistoryEntry]:
        """Newest first; `text` matches anywhere in the prompt (case-insensitive)."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM images WHERE prompt LIKE ? ESCAPE '\\'"
                " ORDER BY created DESC, id DESC LIMIT ?", (pattern, limit)).fetchall()
        return [_entry(row) for row in rows]

    def get(self, entry_id: int) -> HistoryEntry | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM images WHERE id = ?",
                                     (entry_id,)).fetchone()
        return _entry(row) if row else None

    def get_by_path(self, path: Path) -> HistoryEntry | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM images WHERE path = ?",
                                     (str(path),)).fetchone()
        return _entry(row) if row else None

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM images").fetchone()[0])

    # ----- delete and undo -------------------------------------------------------------------
    def delete(self, entry_id: int) -> Deleted | None:
        """Move the image to `.trash/` and drop it from the index; undo with `undo_delete`."""
        entry = self.get(entry_id)
        if entry is None:
            return None
        trash = self.root / TRASH_DIR
        trash.mkdir(parents=True, exist_ok=True)
        target = trash / f"{int(time.time() * 1000)}-{entry.id}-{entry.path.name}"
        if entry.path.exists():
            os.replace(entry.path, target)
        with self._lock:
            self._conn.execute("DELETE FROM images WHERE id = ?", (entry_id,))
            self._conn.commit()
        deleted = Deleted(entry, target)
        self._undo.append(deleted)
        return deleted

    def empty_trash(self) -> int:
        """Delete the trashed files for good (no undo afterwards); returns how many."""
        trash = self.root / TRASH_DIR
        removed = 0
        for path in trash.iterdir() if trash.is_dir() else []:
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        self._undo.clear()
        return removed

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo_delete(self) -> HistoryEntry | None:
        """Put the most recently deleted image back (file and index row)."""
        if not self._undo:
            return None
        deleted = self._undo.pop()
        entry = deleted.entry
        if deleted.trash_path.exists() and not entry.path.exists():
            entry.path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(deleted.trash_path, entry.path)
        if not entry.path.exists():
            return None
        with self._lock:
            self._conn.execute(
                f"INSERT OR REPLACE INTO images ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.id, str(entry.path), entry.created, entry.prompt, entry.negative,
                 entry.infotext, entry.width, entry.height, entry.thumb))
            self._conn.commit()
        return entry


def _entry(row: tuple) -> HistoryEntry:
    return HistoryEntry(int(row[0]), Path(row[1]), float(row[2]), row[3], row[4], row[5],
                        int(row[6]), int(row[7]), bytes(row[8] or b""))


class IndexingSaver(ResultSaver):
    """ResultSaver that indexes every image in the history right after its PNG is on disk."""

    def __init__(self, outputs: OutputFolder, history: History | None = None) -> None:
        super().__init__(outputs)
        self.history = history

    def save_with_infotext(self, job_id: int, index: int, image: Image.Image, request: object,
                           infotext: str, stem: str, steps_done: int | None = None
                           ) -> ImageResult:
        result = super().save_with_infotext(job_id, index, image, request, infotext, stem,
                                            steps_done)
        history = self.history
        if result.path is not None and history is not None:
            try:
                history.add(result.path, infotext, image)
            except Exception:  # noqa: BLE001 - the PNG is safe; the index can be rebuilt
                log.exception("could not index %s", result.path)
        return result
