"""Bounded reads of files Studio did not write (model folders, checkpoints, configs).

A hostile or broken model folder may hold a symlink to `/dev/zero` (endless data), a FIFO
(blocks forever on open/read), a directory, a huge file, invalid UTF-8 or invalid JSON where a
small config is expected. Everything here refuses non-regular files without blocking (the path
is stat'ed after resolving symlinks, then opened with `O_NONBLOCK` and fstat'ed again) and reads
at most `max_bytes`, raising `FileReadError` (a ValueError) with a one-line message.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import BinaryIO

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # JSON configs a model folder ships are a few KB


class FileReadError(ValueError):
    """A file that cannot be read safely or is malformed (the message names the file)."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _require_regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise FileReadError(f"{path}: not a regular file ({_kind(mode)})")


def check_regular_file(path: str | os.PathLike[str]) -> None:
    """Raise FileReadError unless `path` (after symlinks) is a regular file.

    A missing file raises FileNotFoundError; a broken or looping link, or one that cannot be
    examined, is a FileReadError saying so.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(path):
            raise FileReadError(f"{path}: broken symbolic link") from None
        raise
    except OSError as exc:
        raise FileReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    _require_regular(Path(path), mode)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open `path` for binary reading only if it (after symlinks) is a regular file.

    Never blocks on a FIFO or device; raises FileReadError for those, OSError when missing.
    """
    path = Path(path)
    check_regular_file(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:  # permissions, a link swapped for a loop, ...
        raise FileReadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        _require_regular(path, os.fstat(fd).st_mode)  # it may have been swapped meanwhile
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes_bounded(path: str | os.PathLike[str], max_bytes: int = MAX_CONFIG_BYTES) -> bytes:
    """The whole file, refused (FileReadError) when larger than `max_bytes`."""
    with open_regular(path) as handle:
        if os.fstat(handle.fileno()).st_size > max_bytes:
            raise FileReadError(f"{path}: larger than {max_bytes} bytes")
        data = handle.read(max_bytes + 1)  # the size can change after the fstat
    if len(data) > max_bytes:
        raise FileReadError(f"{path}: larger than {max_bytes} bytes")
    return data


def read_text_bounded(path: str | os.PathLike[str], max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """The file as UTF-8 text (a leading BOM is dropped), at most `max_bytes` long."""
    data = read_bytes_bounded(path, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileReadError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def read_json_file(path: str | os.PathLike[str], max_bytes: int = MAX_CONFIG_BYTES) -> object:
    """The decoded JSON of a small file; FileReadError names the file and the problem."""
    text = read_text_bounded(path, max_bytes)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileReadError(
            f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise FileReadError(f"{path}: invalid JSON ({reason.splitlines()[0]})") from None


def read_json_object(path: str | os.PathLike[str], max_bytes: int = MAX_CONFIG_BYTES) -> dict:
    """Like `read_json_file`, but the top level must be a JSON object."""
    data = read_json_file(path, max_bytes)
    if not isinstance(data, dict):
        names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        found = names.get(type(data), "a number")
        raise FileReadError(f"{path}: expected a JSON object, found {found}")
    return data
