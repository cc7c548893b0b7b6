"""Prompts files for `studio batch generate`: one prompt a line, or a CSV with a header (pure).

A plain file holds one prompt per line (blank lines and lines starting with `#` are skipped).
A CSV file's header names its columns: `prompt` (required), `negative`, `seed`, `steps`,
`guidance`, `width`, `height`, `scheduler` (a few aliases: `negative_prompt`, `cfg`,
`sampler`); an empty cell takes the command line's value. Everything is bounded: the file's
size, the number of prompts, a prompt's length. Any problem is a `PromptsFileError` (a
ValueError) naming the file, the line and the reason.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.requests import SCHEDULER_NAMES

if TYPE_CHECKING:
    import _csv

MAX_PROMPTS_BYTES = 8 * 1024 * 1024
MAX_ENTRIES = 100_000
MAX_PROMPT_CHARS = 10_000
MAX_REPORTED = 10  # problems listed in one error message
COLUMNS = ("prompt", "negative", "seed", "steps", "guidance", "width", "height", "scheduler")
_ALIASES = {"negative_prompt": "negative", "negative prompt": "negative", "cfg": "guidance",
            "cfg scale": "guidance", "cfg_scale": "guidance", "sampler": "scheduler"}
_INTS = ("seed", "steps", "width", "height")


class PromptsFileError(ValueError):
    """A prompts file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class PromptEntry:
    """One prompt and the parameters its row sets (None: the command line's value)."""

    line: int  # where it starts in the file (1-based): names its output
    prompt: str
    values: dict[str, object] = field(default_factory=dict)


def read_prompts(path: Path, fmt: str = "auto") -> list[PromptEntry]:
    """Read and parse a prompts file (`fmt`: auto, lines or csv)."""
    from studio.core.safe_read import read_text_bounded

    try:
        text = read_text_bounded(path, MAX_PROMPTS_BYTES)
    except FileNotFoundError:
        raise PromptsFileError(f"prompts file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise PromptsFileError(f"cannot read the prompts file: {exc}") from None
    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() == ".csv" or looks_like_csv(text) else "lines"
    entries = parse_csv(text, str(path)) if fmt == "csv" else parse_lines(text, str(path))
    if not entries:
        raise PromptsFileError(f"{path}: no prompts in it")
    return entries


def looks_like_csv(text: str) -> bool:
    """True when the first non-blank line is a header of known columns, `prompt` among them."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in first:
        return False
    try:
        cells = next(csv.reader([first]))
    except csv.Error:
        return False
    names = [_column(cell) for cell in cells]
    return "prompt" in names and all(name in COLUMNS for name in names)


def parse_lines(text: str, name: str) -> list[PromptEntry]:
    """One prompt per non-blank line that does not start with `#`."""
    entries: list[PromptEntry] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        prompt = line.strip()
        if not prompt or prompt.startswith("#"):
            continue
        try:
            entries.append(PromptEntry(number, _check_prompt(prompt)))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
        _check_count(entries, name)
    _raise(problems, name)
    return entries


def parse_csv(text: str, name: str) -> list[PromptEntry]:
    """Rows of a CSV file under its header; unknown or repeated columns are refused."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = _header(next(reader, None), name)
        entries, problems = _rows(reader, header, name)
    except csv.Error as exc:
        raise PromptsFileError(f"{name} line {reader.line_num}: not valid CSV ({exc})") from None
    _raise(problems, name)
    return entries


def _header(cells: list[str] | None, name: str) -> list[str]:
    if not cells:
        raise PromptsFileError(f"{name}: empty; the first line must name the columns")
    columns = [_column(cell) for cell in cells]
    unknown = [cell for cell, column in zip(cells, columns, strict=True) if column not in COLUMNS]
    if unknown:
        raise PromptsFileError(f"{name} line 1: unknown column(s) {', '.join(map(repr, unknown))}"
                               f"; the columns are {', '.join(COLUMNS)}")
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if repeated:
        raise PromptsFileError(f"{name} line 1: column(s) named twice: {', '.join(repeated)}")
    if "prompt" not in columns:
        raise PromptsFileError(f"{name} line 1: no 'prompt' column (the header names "
                               f"{', '.join(columns)})")
    return columns


def _rows(reader: _csv.Reader, header: list[str], name: str
          ) -> tuple[list[PromptEntry], list[str]]:
    entries: list[PromptEntry] = []
    problems: list[str] = []
    line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            try:
                entries.append(_entry(line, header, cells))
            except ValueError as exc:
                problems.append(f"line {line}: {exc}")
            _check_count(entries, name)
        line = reader.line_num + 1
    return entries, problems


def _entry(line: int, header: list[str], cells: list[str]) -> PromptEntry:
    if len(cells) > len(header):
        raise ValueError(f"{len(cells)} cells, but the header names {len(header)} columns")
    row = dict(zip(header, cells, strict=False))
    values = {key: _value(key, text.strip()) for key, text in row.items()
              if key != "prompt" and text.strip()}
    return PromptEntry(line, _check_prompt(row.get("prompt", "").strip()), values)


def _value(key: str, text: str) -> object:
    if key in _INTS:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{key} must be a whole number (got {text[:40]!r})") from None
    if key == "guidance":
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"guidance must be a number (got {text[:40]!r})")
        return value
    if key == "scheduler":
        return _scheduler(text)
    return _check_prompt(text, key)


def _scheduler(text: str) -> str:
    for known in SCHEDULER_NAMES:
        if known.lower() == text.lower():
            return known
    raise ValueError(f"unknown scheduler {text[:40]!r}; one of: {', '.join(SCHEDULER_NAMES)}")


def _check_prompt(text: str, what: str = "prompt") -> str:
    if "\0" in text:
        raise ValueError(f"the {what} contains a NUL character")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"the {what} is {len(text)} characters long; the limit is "
                         f"{MAX_PROMPT_CHARS}")
    return text


def _check_count(entries: list[PromptEntry], name: str) -> None:
    if len(entries) > MAX_ENTRIES:
        raise PromptsFileError(f"{name}: more than {MAX_ENTRIES} prompts; split the file")


def _raise(problems: list[str], name: str) -> None:
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED \
            else ""
        raise PromptsFileError(f"{name}: {shown}{more}")


def _column(cell: str) -> str:
    name = " ".join(cell.strip().lower().split())
    return _ALIASES.get(name, name)
