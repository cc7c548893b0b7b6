"""`studio batch`'s requests: the single commands' requests, built from the same arguments.

Each is checked before any work (a bad --tile or a prompts file's bad row exits 2 at once);
an item's request equals what `studio upscale` / `img2img` / `generate` would run for it.
"""

from __future__ import annotations

import argparse
import secrets
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from studio.commands.common import RANDOM_SEED

if TYPE_CHECKING:
    from studio.batch.build import BatchSpec
    from studio.batch.plan import BatchItem
    from studio.batch.prompts import PromptEntry
    from studio.core.models import ModelEntry
    from studio.core.requests import GenerateRequest

_FIELDS = {"negative": "negative_prompt", "seed": "seed", "steps": "steps",
           "guidance": "guidance", "width": "width", "height": "height",
           "scheduler": "scheduler"}


def upscale_spec(args: argparse.Namespace) -> BatchSpec:
    """As `studio upscale`: the upscaler must be available and the parameters valid."""
    from PIL import Image

    from studio.batch.build import BatchSpec
    from studio.commands.common import check_text, resolve_seed
    from studio.core.upscale import make_request
    from studio.core.upscaler_catalog import resolve_upscaler

    if args.model is not None:
        check_text(args.model, "--model")
    choice = resolve_upscaler(args.model)
    if not choice.available:
        raise ValueError(f"upscaler {choice.name} is not available: {choice.note}")
    fields: dict[str, object] = dict(
        kind=choice.kind, model_path=choice.path, model_name=choice.name, scale=args.scale,
        tile=args.tile, overlap=args.overlap, steps=args.steps, noise_level=args.noise_level,
        guidance=args.guidance, prompt=check_text(args.prompt, "--prompt"),
        seed=resolve_seed(args.seed))
    make_request(Image.new("RGB", (8, 8)), **fields).validate()  # the per-image checks later
    return BatchSpec("upscale", upscale=fields, device=args.device)


def img2img_spec(args: argparse.Namespace) -> BatchSpec:
    """As `studio img2img`: every field but the image and its size, checked once."""
    from studio.batch.build import BatchSpec
    from studio.commands.common import load_entry, make_request, positive
    from studio.core.models import native_resolution
    from studio.core.requests import JobKind

    entry = load_entry(args.model)
    args.batch, args.width, args.height = 1, None, None
    work = positive(args.work_size, "--work-size")
    template = make_request(
        args, entry, JobKind.IMG2IMG, init_image=b"", strength=args.strength,
        work_resolution=work if work is not None else native_resolution(entry.path) or 512)
    template.validate()
    return BatchSpec("img2img", template=template, device=args.device)


def generate_items(args: argparse.Namespace, out: Path) -> list[BatchItem]:
    """One item per prompt; each request is checked (ValueError names the line)."""
    from studio.batch.plan import BatchItem, prompt_output
    from studio.batch.prompts import read_prompts
    from studio.commands.common import load_entry, make_request

    entries = read_prompts(_prompts_file(args.prompts), args.format)
    entry = load_entry(args.model)
    args.batch = 1
    template = make_request(args, entry)
    expand = _expander(entry)
    items: list[BatchItem] = []
    for prompt in entries:
        request = _entry_request(template, prompt, expand, args.prompts)
        items.append(BatchItem(prompt_output(out, prompt.line, prompt.prompt),
                               f"line {prompt.line}", request=request))
    return items


def _entry_request(template: GenerateRequest, entry: PromptEntry, expand: object,
                   source: Path) -> GenerateRequest:
    changes: dict[str, object] = {_FIELDS[key]: value for key, value in entry.values.items()}
    if changes.get("seed") == RANDOM_SEED:
        changes["seed"] = secrets.randbelow(2**32)
    request = replace(template, prompt=expand(entry.prompt), **changes)  # type: ignore[operator]
    try:
        request.validate()
    except ValueError as exc:
        raise ValueError(f"{source} line {entry.line}: {exc}") from None
    return request


def _expander(entry: ModelEntry):  # noqa: ANN202 - str -> str
    from studio.core.prompts import expand_prompt, load_expansions

    expansions = load_expansions(entry.path)
    return lambda prompt: expand_prompt(prompt, expansions)


def _prompts_file(path: Path) -> Path:
    from studio.commands.common import check_text

    check_text(str(path), "--prompts")
    if path.is_dir():
        raise ValueError(f"--prompts {path} is a folder; give a text or CSV file")
    return path
