"""Where a command's images go: planned names, checked before any work is done.

Qt-free and torch-free. The checks turn every way a destination can be unusable (a NUL byte,
a name too long, a parent that is a file, a read-only or full folder, the input image itself)
into one clear `ValueError` message before the model is even loaded.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

NAME_MAX_DEFAULT = 255
PATH_MAX_DEFAULT = 4096
MAX_NUMBER = 100_000  # numbered names tried before giving up (`x-2.png` … `x-100000.png`)


@dataclass(frozen=True)
class Target:
    """A planned file: `base` itself (number None) or `base-number.png`."""

    base: Path
    number: int | None = None

    @property
    def path(self) -> Path:
        return self.base if self.number is None else numbered(self.base, self.number)

    def candidates(self, start: int | None = None) -> Iterator[Path]:
        """The planned path, then the next numbered names (never one below `start`)."""
        first = self.number if self.number is not None else 1
        if start is None or start <= first:
            yield self.path
            start = first + 1
        for number in range(max(start, 2), MAX_NUMBER + 1):
            yield numbered(self.base, number)


@dataclass(frozen=True)
class OutputPlan:
    """The files one command writes: `targets[i]` is image i of the job."""

    targets: tuple[Target, ...]
    overwrite: bool = False
    protected: tuple[Path, ...] = ()  # the command's inputs: never replaced
    upscale_by: int = 1  # > 1: each image also gets a `NAME-xN.png` copy
    sidecar_suffixes: tuple[str, ...] = ()  # written next to each image, e.g. ".mask.png"
    fallback_dirs: tuple[Path, ...] = field(default_factory=lambda: fallback_dirs())


def numbered(base: Path, number: int) -> Path:
    return base.with_name(f"{base.stem}-{number}{base.suffix}")


def upscaled_name(path: Path, scale: int) -> Path:
    return path.with_name(f"{path.stem}-x{scale}{path.suffix}")


def batch_targets(output: Path, count: int) -> tuple[Target, ...]:
    """`output` for one image; `NAME-1.png` … `NAME-N.png` for a batch."""
    if count == 1:
        return (Target(output),)
    return tuple(Target(output, index + 1) for index in range(count))


def fallback_dirs() -> tuple[Path, ...]:
    """Where an image goes when its destination fails after the work: data dir, then temp."""
    env = os.environ.get("STUDIO_DATA")
    if env:
        data = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        data = Path(base) / "Studio"
    return (data / "unsaved", Path(tempfile.gettempdir()) / "studio-unsaved")


def check_plan(plan: OutputPlan, bytes_needed: int = 0) -> None:
    """Raise ValueError with a one-line message when the planned files cannot be written."""
    paths = [t.path for t in plan.targets]
    for path in paths:
        check_name(path)
    names = [p for path in paths for p in _companions(path, plan)]
    for path in names:
        check_name(path, what="a file it writes")
    for path in paths:
        _check_existing(path, plan)
    for folder in dict.fromkeys(p.parent for p in paths):
        check_folder(folder, bytes_needed)


def _companions(path: Path, plan: OutputPlan) -> list[Path]:
    extra = [upscaled_name(path, plan.upscale_by)] if plan.upscale_by > 1 else []
    extra += [path.with_suffix(suffix) for suffix in plan.sidecar_suffixes]
    for companion in extra:
        if any(same_file(companion, source) for source in plan.protected):
            raise ValueError(f"{companion} is an input of this command; it would be replaced: "
                             "choose another --output")
    return extra


def check_name(path: Path, what: str = "--output") -> None:
    """NUL bytes, the .png suffix, over-long names and paths."""
    text = str(path)
    if "\0" in text:
        raise ValueError(f"{what} contains a NUL byte: {text!r}")
    if what == "--output" and path.suffix.lower() != ".png":
        raise ValueError(f"--output must be a .png file (got {path})")
    anchor = nearest_existing(path.parent)
    name_max = _pathconf(anchor, "PC_NAME_MAX", NAME_MAX_DEFAULT)
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > name_max:
            raise ValueError(f"{what}: the name {_short(part)} is too long ({size} bytes; "
                             f"the limit here is {name_max})")
    size = len(os.fsencode(str(path.absolute())))
    path_max = _pathconf(anchor, "PC_PATH_MAX", PATH_MAX_DEFAULT)
    if size >= path_max:
        raise ValueError(f"{what}: the path is too long ({size} bytes; the limit is {path_max})")


def _check_existing(path: Path, plan: OutputPlan) -> None:
    if path.is_dir():
        raise ValueError(f"--output {path} is a directory; give a .png file name")
    if plan.overwrite and any(same_file(path, source) for source in plan.protected):
        raise ValueError(f"--overwrite would replace the input image {path}; choose another "
                         "--output (without --overwrite, a free numbered name is used)")


def check_folder(folder: Path, bytes_needed: int = 0) -> None:
    """The folder exists (or can be created), is a directory, writable, with room to spare."""
    anchor = nearest_existing(folder)
    if not anchor.is_dir():
        raise ValueError(f"cannot write to {folder}: {anchor} is not a directory")
    if anchor == folder:
        _probe(folder)
    elif not os.access(anchor, os.W_OK | os.X_OK):
        raise ValueError(f"cannot create {folder}: {anchor} is not writable")
    try:
        free = shutil.disk_usage(anchor).free
    except OSError:
        return
    if bytes_needed and free < bytes_needed:
        raise ValueError(f"not enough free space in {anchor}: {free // 2**20} MiB free, "
                         f"about {bytes_needed // 2**20 + 1} MiB needed")


def _probe(folder: Path) -> None:
    """Create and remove a temp file: the only sure test of writability (root, read-only fs)."""
    from studio.core.outputs import TEMP_PREFIX

    try:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".probe", dir=folder)
    except OSError as exc:
        raise ValueError(f"cannot write to {folder}: {reason(exc)}") from None
    os.close(fd)
    try:
        os.unlink(name)
    except OSError:
        pass


def nearest_existing(folder: Path) -> Path:
    """`folder`, or its closest ancestor that exists (the current directory for '')."""
    current = folder if str(folder) else Path(".")
    while True:
        try:
            os.stat(current)
            return current
        except OSError as exc:  # missing, a file above it, a name `check_name` reports: go up
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
                # a loop of links, a folder we may not enter, …
                raise ValueError(f"cannot use {current}: {reason(exc)}") from None
        if current.parent == current:
            return current
        current = current.parent


def same_file(a: Path, b: Path) -> bool:
    """True when both names are the same existing file (hard links and symlinks included)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(path, name)
    except (OSError, ValueError, AttributeError):
        return default
    return value if value and value > 0 else default


def _short(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def reason(exc: BaseException) -> str:
    """A short human reason for an OSError/ValueError ('No space left on device', …)."""
    if isinstance(exc, OSError):
        if exc.strerror:
            return exc.strerror
        if exc.errno:
            return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__
