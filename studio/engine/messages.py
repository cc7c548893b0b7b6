"""One-line error messages from exceptions (jobs fail with one line, never a traceback)."""

from __future__ import annotations


def error_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of `exc`'s message (its type's name if empty), at most `limit` chars."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[:limit - 3] + "…"
