"""What a batch does: its items, where each output goes, which are already done (pure).

Inputs are listed recursively (hidden files and folders skipped, symlinked folders not
followed, the output folder left out when it lies inside the input folder) and each output
mirrors its input's place: `IN/a/b.jpg` → `OUT/a/b.png`. Two inputs that would share an output
(`b.jpg` and `b.png`) keep their suffix in the name instead (`b.jpg.png`, `b.png.png`). An
output that exists is finished: outputs are published atomically, so none is ever partial.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
MAX_INPUTS = 1_000_000  # a listing beyond this is refused: split the folder

WRITTEN, EXISTS, SKIPPED, FAILED = "written", "exists", "skipped", "failed"


@dataclass(frozen=True)
class BatchItem:
    """One unit of work: an input image (or a prompt's request) and its output path."""

    output: Path
    label: str  # how messages name it: the input's relative path, or "line 12"
    source: Path | None = None  # upscale, img2img: the input image
    request: object | None = None  # generate: the frozen request, built and checked up front


@dataclass(frozen=True)
class Outcome:
    """What became of one item: written, exists (someone else wrote it), skipped or failed."""

    index: int
    status: str
    detail: str = ""  # the output's path, or why it failed


@dataclass(frozen=True)
class Listing:
    """Input files found, and folders that could not be listed (with the reason)."""

    files: tuple[Path, ...]
    errors: tuple[tuple[str, str], ...] = ()


def list_inputs(in_dir: Path, exclude: Path | None = None,
                max_inputs: int = MAX_INPUTS) -> Listing:
    """Image files under `in_dir`, sorted; ValueError when there are too many."""
    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    skip = os.path.realpath(exclude) if exclude is not None else None

    def on_error(exc: OSError) -> None:
        where = _relative(Path(exc.filename or in_dir), in_dir)
        errors.append((where, exc.strerror or str(exc)))

    for root, dirs, names in os.walk(in_dir, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and os.path.realpath(os.path.join(root, d)) != skip)
        for name in names:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                files.append(Path(root) / name)
        if len(files) > max_inputs:
            raise ValueError(f"{in_dir} holds more than {max_inputs} images; split it into "
                             "smaller folders")
    return Listing(tuple(sorted(files)), tuple(errors))


def mirror_items(files: tuple[Path, ...], in_dir: Path, out_dir: Path) -> list[BatchItem]:
    """One item per input file; its output mirrors the input's place under `out_dir`."""
    wanted = [(path, path.relative_to(in_dir)) for path in files]
    taken = Counter(rel.with_suffix(".png") for _, rel in wanted)
    inputs = {os.path.realpath(path) for path in files}
    items: list[BatchItem] = []
    for path, rel in wanted:
        name = rel.with_suffix(".png")
        if taken[name] > 1:
            name = rel.with_name(f"{rel.name}.png")
        output = out_dir / name
        if os.path.realpath(output) in inputs:
            output = output.with_name(f"{output.stem}.out.png")
        items.append(BatchItem(output, str(rel), source=path))
    return _distinct(items)


def _distinct(items: list[BatchItem]) -> list[BatchItem]:
    """Outputs made unique (`x.png`, `x-2.png`, …) in the rare case two names still meet."""
    seen: set[Path] = set()
    result: list[BatchItem] = []
    for item in items:
        output, number = item.output, 1
        while output in seen:
            number += 1
            output = item.output.with_name(f"{item.output.stem}-{number}.png")
        seen.add(output)
        result.append(item if output == item.output else replace(item, output=output))
    return result


def pending(items: list[BatchItem]) -> tuple[list[int], int]:
    """(indices of items still to do, how many are finished already)."""
    todo = [i for i, item in enumerate(items) if not _exists(item.output)]
    return todo, len(items) - len(todo)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def prompt_output(out_dir: Path, line: int, prompt: str) -> Path:
    """`OUT/00012-red-apple.png`: the prompt's line number and a slug of its text."""
    return out_dir / f"{line:05d}-{slug(prompt)}.png"


def slug(text: str, limit: int = 40) -> str:
    """Lowercase ASCII words joined by hyphens, at most `limit` characters ("prompt" if none)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-") or "prompt"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)
