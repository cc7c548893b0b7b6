"""A batch's progress and its end: an "x of N" bar on stderr, written paths on stdout, and
the list of items that failed (with their reasons) at the end."""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

from studio.batch.plan import EXISTS, FAILED, SKIPPED, WRITTEN, BatchItem, Outcome

MAX_LISTED = 200  # failures listed one by one; the rest are counted


class BatchReport:
    """Counts outcomes, drives the bar, and writes the summary; safe from any thread."""

    def __init__(self, items: list[BatchItem], done_before: int, kind: str,
                 err: TextIO | None = None, out: TextIO | None = None) -> None:
        self.items = items
        self.err = err or sys.stderr
        self.out = out or sys.stdout
        self.counts = {WRITTEN: 0, EXISTS: 0, SKIPPED: done_before, FAILED: 0}
        self.failures: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._bar = _bar(len(items), done_before, kind, self.err)

    def add(self, outcome: Outcome) -> None:
        """One item is over: count it, move the bar, print its output path."""
        item = self.items[outcome.index]
        with self._lock:
            self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
            if outcome.status == FAILED:
                self.failures.append((item.label, outcome.detail))
            elif outcome.status == WRITTEN:
                self._line(outcome.detail, self.out)
            self._bar.update(1)

    def fail_listing(self, errors: tuple[tuple[str, str], ...]) -> None:
        """Folders that could not be listed: reported with the failed items."""
        with self._lock:
            self.failures.extend((f"{where}/", f"cannot list: {why}") for where, why in errors)

    def note(self, text: str) -> None:
        with self._lock:
            self._line(f"studio: {text}", self.err)

    def finish(self) -> int:
        """Close the bar, write the summary and the failures; the exit code (0 or 1)."""
        with self._lock:
            self._bar.close()
            counts = self.counts
            self._line(f"studio: {counts[WRITTEN]} written, {counts[SKIPPED] + counts[EXISTS]} "
                       f"already done, {len(self.failures)} failed "
                       f"({len(self.items)} in all)", self.err)
            if self.failures:
                self._line(f"studio: {len(self.failures)} failed:", self.err)
                for label, why in self.failures[:MAX_LISTED]:
                    self._line(f"  {label}: {why}", self.err)
                if len(self.failures) > MAX_LISTED:
                    self._line(f"  … and {len(self.failures) - MAX_LISTED} more", self.err)
            return 1 if self.failures else 0

    def close(self) -> None:
        with self._lock:
            self._bar.close()

    def _line(self, text: str, stream: TextIO) -> None:
        self._bar.clear()
        _say(text, stream)
        self._bar.refresh()


def _bar(total: int, initial: int, kind: str, stream: TextIO):  # noqa: ANN202 - a tqdm bar
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="image", desc=f"batch {kind}", file=stream,
                leave=True, dynamic_ncols=True,
                bar_format="{desc}: {n_fmt} of {total_fmt} {bar} [{elapsed}<{remaining}]")


def _say(text: str, stream: TextIO) -> None:
    """One line; names with undecodable bytes are written as those bytes."""
    try:
        print(text, file=stream, flush=True)
    except UnicodeEncodeError:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            print(text.encode("utf-8", "backslashreplace").decode("ascii", "replace"),
                  file=stream, flush=True)
            return
        stream.flush()
        buffer.write(os.fsencode(text) + b"\n")
        buffer.flush()
